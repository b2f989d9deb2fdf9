import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MlflowClient } from '../../lib/mlflow';

// A stand-in artifact proxy: `listings` maps the listed path (the `path` query) to the entries it answers; every
// file download answers "payload".
const LIST = '/api/2.0/mlflow-artifacts/artifacts';
const RUN = 'mlflow-artifacts:/1/abc/artifacts';
let listings: Record<string, { path: string; is_dir?: boolean; file_size?: number }[]> = {};
let server: Server;
let client: MlflowClient;
const work = mkdtempSync(join(tmpdir(), 'mlflow-artifact-paths-'));

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === LIST) {
      const files = listings[url.searchParams.get('path') ?? ''] ?? [];
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ files }));
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end('payload');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  client = new MlflowClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, retry: { attempts: 1 } });
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(work, { recursive: true, force: true });
});

describe('artifact downloads from a hostile listing', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(work, 'case-'));
  });

  it('when the listing names "../../evil", then downloadDir refuses it and writes nothing', async () => {
    listings = { '1/abc/artifacts': [{ path: 'model.onnx', file_size: 7 }, { path: '../../evil', file_size: 7 }] };
    await assert.rejects(client.downloadDir(RUN, '', join(dir, 'model')), /unsafe path "\.\.\/\.\.\/evil"/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('when a listed directory is "..", then nothing lands beside the download dir', async () => {
    listings = {
      '1/abc/artifacts': [{ path: 'model.onnx', file_size: 7 }, { path: '..', is_dir: true }],
      '1/abc/artifacts/..': [{ path: 'evil', file_size: 7 }],
    };
    await assert.rejects(client.downloadDir(RUN, '', join(dir, 'model')), /unsafe path "\.\."/);
    assert.equal(existsSync(join(dir, 'evil')), false);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('when the listing names an absolute or backslash path, then listing refuses it', async () => {
    for (const path of ['/etc/cron.d/evil', '..\\..\\evil', 'C:/evil', 'a/.']) {
      listings = { '1/abc/artifacts': [{ path, file_size: 7 }] };
      await assert.rejects(client.listArtifacts(RUN), /unsafe path/, path);
    }
  });

  it('when the listing is ordinary, including full paths from older servers, then the tree downloads', async () => {
    listings = {
      '1/abc/artifacts': [{ path: 'MLmodel', file_size: 7 }, { path: 'model', is_dir: true }],
      '1/abc/artifacts/model': [{ path: 'model/model.onnx', file_size: 7 }],
    };
    assert.deepEqual(await client.downloadDir(RUN, '', join(dir, 'out')), ['MLmodel', 'model/model.onnx']);
    assert.equal(readFileSync(join(dir, 'out', 'model', 'model.onnx'), 'utf8'), 'payload');
    assert.deepEqual(readdirSync(dir), ['out']);
  });
});
