// Writes rows one transaction at a time through Twenty's pg pool (the options of
// twenty_db_client.js) and prints each id once its COMMIT returned: the rows a client was told
// are committed. Stops at the first error (the primary died) or after LIMIT rows.
//
// Usage: PG_DATABASE_URL=... node twenty_db_writer.js SHAPE TABLE LIMIT
// Exit 0 after LIMIT rows, 1 on the first error (its message on stderr).
"use strict";

const { Pool } = require("pg");
const { poolOptions } = require("./twenty_db_client.js");

async function main() {
  const [shape, table, limit] = process.argv.slice(2);
  const pool = new Pool({
    ...poolOptions(shape, process.env),
    max: 1,
    connectionTimeoutMillis: 5000,
  });
  pool.on("error", () => {}); // an idle client losing its server; the next query reports it
  for (let id = 1; id <= Number(limit); id += 1) {
    await pool.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
    process.stdout.write(`${id}\n`);
  }
  await pool.end();
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  },
);
