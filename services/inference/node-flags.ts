/**
 * V8 flags the inference service runs with. Every launcher passes them on node's command line: the local stack
 * (infra/stack.ts), the benches, and the containers through FEROPS_NODE_FLAGS, which the image's CMD puts before
 * the entry point (infra/docker/Dockerfile.node; docker-compose.yml and infra/k8s set it, and
 * test/unit/compose.test.ts keeps them equal to this list). Not NODE_OPTIONS: node refuses this flag there.
 *
 * --heap-growing-percent=200: after each full collection the old generation may grow to 3x what survived, instead
 * of the factor V8 picks from its own speed estimates.
 * Why: V8 starts incremental marking whenever the old generation's headroom is smaller than the young generation,
 * which under sustained load grows to Node's semi-space maximum. With V8's own factor, marking restarted right
 * after each full collection: back-to-back mark-compacts, less throughput, a longer p99 (bench/inference-soak.ts
 * shows it). More headroom ends that and keeps the large young generation, so scavenges stay rare; the smaller
 * semi-space used before (`--max-semi-space-size=4`) put them on the requests where p99 is read.
 * (docs/inference.md#design-measurements-moved-from-code-comments)
 */
export const INFERENCE_NODE_FLAGS: readonly string[] = ['--heap-growing-percent=200'];
