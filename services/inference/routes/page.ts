import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router, type Response } from 'express';

/** Nothing inline, nothing from elsewhere: the page's own script and style, its API, and images it was given. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "media-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PUBLIC_DIR = join(__dirname, '..', 'public');
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/assets/page.js': { file: 'page.js', type: 'text/javascript; charset=utf-8' },
  '/assets/page.css': { file: 'page.css', type: 'text/css; charset=utf-8' },
};

/** GET / (the try-it page) and its two assets, read once at start so a missing file fails start-up. */
export function pageRoutes(): Router {
  const router = Router();
  for (const [path, { file, type }] of Object.entries(ASSETS)) {
    const body = readFileSync(join(PUBLIC_DIR, file));
    router.get(path, (_req, res) => send(res, type, body));
  }
  return router;
}

function send(res: Response, type: string, body: Buffer): void {
  res.setHeader('content-security-policy', PAGE_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  // The webcam is asked for only on a click; nothing else (microphone, location) is ever wanted.
  res.setHeader('permissions-policy', 'camera=(self), microphone=(), geolocation=()');
  res.setHeader('cache-control', 'no-cache');
  res.type(type).send(body);
}
