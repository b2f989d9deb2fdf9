'use strict';
// The try-it page. Every value from the API or the user reaches the DOM through textContent or a URL attribute
// built here, never through innerHTML, so a model version or an error message cannot inject markup.

const LABELS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'text') node.textContent = value;
    else if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

/** Only http(s) links from the status route become hrefs. */
function safeLink(url, text) {
  try {
    const parsed = new URL(url, location.href);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return el('a', { href: parsed.href, target: '_blank', rel: 'noopener noreferrer', text });
  } catch {
    // not a URL: shown as text below
  }
  return el('span', { text });
}

async function loadStatus() {
  const strip = $('status');
  try {
    const res = await fetch('/v1/status', { headers: { accept: 'application/json' } });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
    strip.replaceChildren(...statusItems(body));
  } catch (err) {
    strip.replaceChildren(el('span', { class: 'item', text: `status unavailable: ${err.message}` }));
  }
}

function statusItems(s) {
  const slot = (name, v) => {
    const item = el('span', { class: 'item', 'data-slot': name }, [`${name}: `]);
    if (!v) item.append('none');
    else item.append(v.mlflowUrl ? safeLink(v.mlflowUrl, v.version) : el('code', { text: v.version }));
    return item;
  };
  const items = [
    slot('stable', s.stable),
    slot('canary', s.canary),
    el('span', { class: 'item', text: `canary weight: ${s.canaryWeight} %` }),
    el('span', { class: 'item', text: `shadow: ${s.shadow ? 'on' : 'off'}` }),
  ];
  if (s.links.temporal) items.push(el('span', { class: 'item' }, [safeLink(s.links.temporal, s.canary ? 'rollout in Temporal' : 'Temporal UI')]));
  if (s.links.mlflow) items.push(el('span', { class: 'item' }, [safeLink(s.links.mlflow, 'MLflow UI')]));
  return items;
}

let previewUrl = null;
/** The image last sent, asked again when the small-faces option changes. */
let lastBlob = null;

async function predict(blob) {
  lastBlob = blob;
  $('error').hidden = true;
  $('busy').hidden = false;
  try {
    // The API's own small-face search for this photo (?minFace=), so the page shows what a client asking for it gets.
    const query = $('small-faces').checked ? '?crops=true&minFace=24' : '?crops=true';
    const res = await fetch(`/v1/predict${query}`, {
      method: 'POST',
      headers: { 'content-type': blob.type || 'application/octet-stream' },
      body: blob,
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error(body && body.error ? `${body.error.message} (${body.error.code})` : `the service answered HTTP ${res.status}`);
    await show(blob, body);
  } catch (err) {
    $('result').hidden = true;
    $('error').textContent = err.message;
    $('error').hidden = false;
  } finally {
    $('busy').hidden = true;
  }
}

async function show(blob, answer) {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(blob);
  const photo = $('photo');
  photo.src = previewUrl;
  await photo.decode();
  const t = answer.timingsMs;
  const found = answer.faces.length === 0 ? `no face found (${answer.reason})` : `${answer.faces.length} face(s)`;
  $('summary').textContent =
    `${found} · model ${answer.modelVersion} (${answer.slot}) · decode ${t.decode} ms, detect ${t.detect} ms, ` +
    `align ${t.align} ms, infer ${t.infer} ms, total ${t.total} ms · request ${answer.requestId}`;
  const stage = $('stage');
  stage.querySelectorAll('.face-box').forEach((b) => b.remove());
  // Boxes in percent of the image's own pixels, so they stay on the faces at any displayed width.
  const w = photo.naturalWidth;
  const h = photo.naturalHeight;
  answer.faces.forEach((face, i) => {
    const box = el('div', { class: 'face-box', 'data-face': String(i) }, [el('span', { text: `${i + 1} ${face.label}` })]);
    box.style.left = `${(100 * face.box.x) / w}%`;
    box.style.top = `${(100 * face.box.y) / h}%`;
    box.style.width = `${(100 * face.box.width) / w}%`;
    box.style.height = `${(100 * face.box.height) / h}%`;
    stage.append(box);
  });
  $('faces').replaceChildren(...answer.faces.map(faceCard));
  $('result').hidden = false;
}

/** The alignment in words: what levelled the face, or that nothing trusted did. */
function alignmentText(a) {
  if (a.method === 'none') return a.eyes ? `not aligned (landmark confidence ${Number(a.confidence).toFixed(2)})` : 'not aligned';
  return `tilt ${a.angleDeg}° by ${a.method === 'landmarks' ? `landmarks (confidence ${Number(a.confidence).toFixed(2)})` : 'eye pair'}`;
}

/** How sure the face verifier is that the box is a face; nothing when no verifier ran (Haar, whole image). */
function faceScoreText(score) {
  return typeof score === 'number' ? `face score ${score.toFixed(2)}` : '';
}

function faceCard(face, i) {
  const crop = el('img', { alt: `face ${i + 1} as the model saw it (48x48)`, width: '72', height: '72' });
  if (typeof face.crop === 'string' && face.crop.startsWith('data:image/png;base64,')) crop.src = face.crop;
  const head = el('div', {}, [
    el('h2', { text: `${i + 1}. ${face.label}` }),
    el('div', { class: 'muted', text: [`${(face.confidence * 100).toFixed(1)} %`, faceScoreText(face.faceScore), alignmentText(face.alignment)].filter(Boolean).join(' · ') }),
  ]);
  const chart = el('div', { class: 'chart', role: 'img', 'aria-label': `probabilities of face ${i + 1}` });
  for (const label of LABELS) {
    const p = Number(face.probabilities[label]) || 0;
    const fill = el('div');
    fill.style.width = `${Math.max(0, Math.min(100, p * 100))}%`;
    chart.append(
      el('span', { text: label }),
      el('div', { class: label === face.label ? 'bar top' : 'bar', 'data-label': label }, [fill]),
      el('span', { class: 'value', text: `${(p * 100).toFixed(1)} %` }),
    );
  }
  return el('li', { class: 'face' }, [crop, head, chart]);
}

function wireInput() {
  const drop = $('drop');
  $('file').addEventListener('change', (e) => {
    const file = e.target.files[0];
    if (file) predict(file);
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer.files[0];
    if (file) predict(file);
  });
  $('small-faces').addEventListener('change', () => lastBlob && predict(lastBlob));
}

/** Offered only where the browser allows a camera (a secure context with mediaDevices). */
function wireCamera() {
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  const start = $('camera-start');
  const video = $('camera');
  const snap = $('camera-snap');
  start.hidden = false;
  start.addEventListener('click', async () => {
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
      await video.play();
      video.hidden = false;
      snap.hidden = false;
    } catch (err) {
      $('error').textContent = `webcam unavailable: ${err.message}`;
      $('error').hidden = false;
    }
  });
  snap.addEventListener('click', () => {
    const canvas = el('canvas', { width: String(video.videoWidth), height: String(video.videoHeight) });
    canvas.getContext('2d').drawImage(video, 0, 0);
    canvas.toBlob((blob) => blob && predict(blob), 'image/png');
  });
}

wireInput();
wireCamera();
loadStatus();
