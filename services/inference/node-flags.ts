/**
 * V8 flags the inference service runs with. Every launcher passes them on node's command line: the local stack
 * (infra/stack.ts), the benches, and the containers through FEROPS_NODE_FLAGS, which the image's CMD puts before
 * the entry point (infra/docker/Dockerfile.node; docker-compose.yml and infra/k8s set it, and
 * test/unit/compose.test.ts keeps them equal to this list). Not NODE_OPTIONS: node refuses this flag there.
 *
 * --heap-growing-percent=200: after each full collection the old generation may grow to 3x what survived (V8
 * otherwise picks 1.1-4x from its own speed estimates, and here picked ~2x).
 * Why: under sustained load Node's young generation grows to its 16 MB semi-space maximum within ~10 s, and V8
 * starts incremental marking whenever the old generation's headroom is smaller than the young generation. With
 * ~22 MB live and ~24 MB of headroom, marking restarted right after each collection: a mark-compact every
 * 120-200 ms (4-14 ms pauses, `--trace-gc`), crops at concurrency 8 down from ~2,200 to ~1,750 req/s with p99
 * from ~9 to 16-22 ms (bench/inference-soak.ts). More headroom ends that and keeps the large young generation, so
 * scavenges stay rare: 1 per ~350 crop requests (2-3 ms each) instead of 1 per ~90 (~1 ms) with the 4 MB
 * semi-space used before, which at concurrency 1 put a scavenge on ~1 % of requests, right where p99 is read
 * (docs/inference.md).
 */
export const INFERENCE_NODE_FLAGS: readonly string[] = ['--heap-growing-percent=200'];
