/**
 * V8 flags the inference service runs with. Every launcher passes them: the local stack (infra/stack.ts), the
 * HTTP bench, and the containers' NODE_OPTIONS (docker-compose.yml, infra/k8s; test/unit/compose.test.ts keeps
 * those equal to this list).
 *
 * --max-semi-space-size=4 (MB; Node's default on 64-bit is 16). Under sustained load the young generation grows to
 * its maximum within ~10 s. V8 then starts incremental marking whenever the old generation's headroom is smaller
 * than the young generation. After the first full collection this service keeps ~22 MB live with ~24 MB of
 * headroom, less than a full-grown young generation, so marking restarted right after each collection.
 * `--trace-incremental-marking` showed "Start (task)" with headroom left and `--trace-gc` showed a mark-compact
 * every 120-200 ms (4-14 ms pauses) and no scavenges. Crops at concurrency 8 then dropped from ~2,200 to
 * ~1,750 req/s, with p99 going from ~9 to 16-22 ms, and stayed there. With 4 MB, 48 s of the same load ran with no such storm:
 * scavenges take 1.2-1.7 ms instead of 3-4 ms, and a mark-compact comes every few seconds.
 */
export const INFERENCE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
