// Prints "true" when Twenty has never set up this database (its migrations table
// core._typeorm_migrations does not exist yet), "false" otherwise; exits 1 on any error, so the
// migration Job stops instead of guessing. Run by the migration Job with the image's own Node and
// its `pg` module (the driver Twenty itself uses), reading the same PG_DATABASE_URL as Twenty:
// pg parses sslmode/sslrootcert from it, so the probe verifies the database's certificate as the
// server does. The image is not known to ship the PostgreSQL command-line client
// (infra/twenty/contract.yaml, runtime.psql_in_image).
"use strict";

const { Client } = require("pg");

async function main() {
  const client = new Client({
    connectionString: process.env.PG_DATABASE_URL,
    connectionTimeoutMillis: 30000,
  });
  await client.connect();
  try {
    const result = await client.query(
      "SELECT to_regclass('core._typeorm_migrations') IS NULL AS fresh",
    );
    process.stdout.write(`${result.rows[0].fresh}\n`);
  } finally {
    await client.end();
  }
}

main().catch((error) => {
  process.stderr.write(`database-is-fresh: ${error.message}\n`);
  process.exit(1);
});
