import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceContext } from '../../services/inference/context';
import { publicStatus } from '../../services/inference/usecases/status';

/** A context with just what publicStatus reads: slots by name, the traffic split, the UI links, the deployment. */
function context(slots: Record<string, { version: string; source: string }>, ui: { temporalUiUrl?: string; mlflowUiUrl?: string }): ServiceContext {
  return {
    config: ui,
    slots: { get: (name: string) => (slots[name] ? { info: slots[name] } : undefined), canaryWeight: 25, shadow: false },
    deployment: { status: () => ({ following: null, generation: null, appliedAt: null, error: null }) },
  } as unknown as ServiceContext;
}

describe('public status (GET /v1/status)', () => {
  const registry = { stable: { version: 'ferops-fer/3', source: 'models:/ferops-fer/3' }, canary: { version: 'ferops-fer/4', source: 'models:/ferops-fer/4' } };
  const ui = { temporalUiUrl: 'http://127.0.0.1:8233/namespaces/default/', mlflowUiUrl: 'http://127.0.0.1:5000/' };

  it('when both slots come from the registry, then each links its MLflow model version and Temporal lists the canary\'s workflows', () => {
    const s = publicStatus(context(registry, ui));
    assert.deepEqual(s.stable, { version: 'ferops-fer/3', mlflowUrl: 'http://127.0.0.1:5000/#/models/ferops-fer/versions/3' });
    assert.equal(s.canary?.mlflowUrl, 'http://127.0.0.1:5000/#/models/ferops-fer/versions/4');
    assert.equal(s.links.temporal, `http://127.0.0.1:8233/namespaces/default/workflows?query=${encodeURIComponent('FeropsModelVersion="4"')}`);
    assert.equal(s.links.mlflow, 'http://127.0.0.1:5000/');
    assert.equal(s.canaryWeight, 25);
  });

  it('when a slot holds a directory or an alias, then it has no MLflow link and its path is not shown', () => {
    const s = publicStatus(context({ stable: { version: 'v1', source: '/srv/models/v1' }, canary: { version: 'c', source: 'models:/ferops-fer@champion' } }, ui));
    assert.deepEqual(s.stable, { version: 'v1', mlflowUrl: null });
    assert.deepEqual(s.canary, { version: 'c', mlflowUrl: null });
    assert.equal(s.links.temporal, ui.temporalUiUrl, 'without a registry canary, the UI itself');
    assert.doesNotMatch(JSON.stringify(s), /\/srv\/models|@champion/);
  });

  it('when no UI address is configured, then there are no links', () => {
    const s = publicStatus(context(registry, {}));
    assert.deepEqual(s.links, { temporal: null, mlflow: null });
    assert.equal(s.stable?.mlflowUrl, null);
  });
});
