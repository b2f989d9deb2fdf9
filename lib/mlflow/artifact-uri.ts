/**
 * Maps an artifact URI to the path the server's artifact proxy takes: `mlflow-artifacts:/1/abc/artifacts` and
 * `mlflow-artifacts://host:5000/1/abc/artifacts` both become `1/abc/artifacts`. Only proxied URIs can be
 * reached over HTTP; anything else (a `file:` store, s3 without the proxy) is refused with a clear error.
 */
export function proxyPath(artifactUri: string): string {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri);
  if (!m) {
    throw new Error(
      `artifact URI "${artifactUri}" is not served by the MLflow artifact proxy (expected mlflow-artifacts:/...); ` +
        'start the server with --serve-artifacts and create experiments without an explicit artifact_location',
    );
  }
  const path = m[1].replace(/\/+$/, '');
  if (path.split('/').includes('..')) throw new Error(`artifact URI "${artifactUri}" contains ".."`);
  return path;
}

export const joinArtifactPath = (...parts: string[]): string =>
  parts
    .flatMap((p) => p.split('/'))
    .filter((s) => s && s !== '.')
    .join('/');
