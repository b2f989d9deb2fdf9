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

/**
 * The base name of one entry of an artifact listing (the proxy answers base names, older servers full paths),
 * checked before it becomes part of a local path: a hostile or intercepted server could answer `..`, an absolute
 * path or a backslash to make a download write outside its folder.
 */
export function listedBaseName(name: string): string {
  const segments = name.split('/');
  const last = segments[segments.length - 1];
  if (name.startsWith('/') || /^[a-z]:/i.test(name) || /[\\\0]/.test(name) || segments.includes('..') || last === '' || last === '.') {
    throw new Error(`the artifact listing holds an unsafe path ${JSON.stringify(name)}; refusing to download it`);
  }
  return last;
}
