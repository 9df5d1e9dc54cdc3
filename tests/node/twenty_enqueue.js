// Enqueues jobs on Twenty's BullMQ queues the way Twenty v2.33.0's BullMQDriver does, with the
// npm bullmq Twenty pins (packages/twenty-server/package.json: bullmq 5.78.0, ioredis 5.10.1;
// ours in package-lock.json), so that a test can read where the waiting jobs really are.
//
// Twenty's driver (twentyhq/twenty 41d24255, packages/twenty-server/src/engine/core-modules/
// message-queue/): messageQueueModuleFactory gives BullMQ only { connection } (no prefix);
// register() makes `new Queue(queueName, options)`; add()/bulkAdd() pass
// `priority: options?.priority ?? MESSAGE_QUEUE_WORKER_CONFIG[queueName].priority` (1..7);
// addCron() calls upsertJobScheduler(key, repeat, { name, data, opts: { priority:
// options?.priority, repeat, ... } }), i.e. no priority unless the caller gives one.
//
// Usage: node twenty_enqueue.js PORT PLAN_JSON
//   PLAN_JSON: [{"queue": "email-queue", "prioritized": 3, "priority": 1, "plain": 2,
//                "cron": true}, ...]
//   "prioritized": jobs added like add() with that priority; "plain": jobs added without a
//   priority (what a due scheduler run is); "cron": one job scheduler registered like addCron()
//   with a one-hour interval (BullMQ runs the first one at once).
// Prints one JSON line: {queue: {waiting, prioritized, wait, delayed}} from BullMQ's own
// getJobCounts, after the jobs are in place. Exit 1 with the error on failure.
"use strict";

const { Queue } = require("bullmq");
const IORedis = require("ioredis");

async function main() {
  const [port, planJson] = process.argv.slice(2);
  const plan = JSON.parse(planJson);
  // Twenty's queue client: ioredis with maxRetriesPerRequest null (BullMQ requires it).
  const connection = new IORedis({ host: "127.0.0.1", port: Number(port), maxRetriesPerRequest: null });
  const counts = {};
  try {
    for (const step of plan) {
      const queue = new Queue(step.queue, { connection });
      for (let i = 0; i < (step.prioritized ?? 0); i++) {
        await queue.add("job", { i }, { priority: step.priority });
      }
      for (let i = 0; i < (step.plain ?? 0); i++) {
        await queue.add("job", { i }, { priority: undefined });
      }
      if (step.cron) {
        await queue.upsertJobScheduler(
          "cron-job",
          { every: 3600 * 1000 },
          { name: "cron-job", data: {}, opts: { priority: undefined } },
        );
      }
      counts[step.queue] = await queue.getJobCounts("waiting", "prioritized", "wait", "delayed");
      await queue.close();
    }
  } finally {
    await connection.quit();
  }
  process.stdout.write(JSON.stringify(counts) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
