// Connects to PostgreSQL exactly as Twenty v2.33.0's server builds its clients from its
// environment, with the npm `pg` driver Twenty declares (package.json: pg 8.12.0), and runs SQL.
//
// Twenty's two shapes of client (sources read at twentyhq/twenty 41d24255, v2.33.0):
// - "typeorm": packages/twenty-server/src/database/typeorm/core/core.datasource.ts and
//   .../typeorm/raw/raw.datasource.ts (setup-db, migrations, the core module) give TypeORM
//   { url: PG_DATABASE_URL, ssl: PG_SSL_ALLOW_SELF_SIGNED === "true" ? { rejectUnauthorized:
//   false } : undefined, poolSize, extra }. TypeORM's PostgresDriver.createPool hands pg.Pool
//   { connectionString: url, host, user, password, database, port (its own parse of the URL),
//   ssl, max: poolSize, ...extra }.
// - "pool": the workspace data source's pg.Pool({ connectionString: PG_DATABASE_URL, ssl: the
//   same expression, max: PG_POOL_MAX_CONNECTIONS, ... }).
// In both, pg parses connectionString and its options (sslmode, sslrootcert) override `ssl`.
//
// Usage: PG_DATABASE_URL=... [PG_SSL_ALLOW_SELF_SIGNED=true] node twenty_db_client.js SHAPE SQL...
// Prints one JSON line: the rows of the last statement. Exit 1 with the driver's message on error.
"use strict";

const { Pool } = require("pg");

function twentySsl(env) {
  return env.PG_SSL_ALLOW_SELF_SIGNED === "true" ? { rejectUnauthorized: false } : undefined;
}

// TypeORM's DriverUtils.parseConnectionUrl: host, port, user, password, database (no query).
function typeormUrlParts(url) {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: parsed.pathname.replace(/^\//, "") || undefined,
    port: parsed.port ? parseInt(parsed.port, 10) : undefined,
  };
}

function poolOptions(shape, env) {
  const url = env.PG_DATABASE_URL;
  const max = Number(env.PG_POOL_MAX_CONNECTIONS ?? 10);
  if (shape === "typeorm") {
    return {
      connectionString: url,
      ...typeormUrlParts(url),
      ssl: twentySsl(env),
      max,
      query_timeout: Number(env.PG_DATABASE_PRIMARY_TIMEOUT_MS ?? 10000),
      idleTimeoutMillis: Number(env.PG_POOL_IDLE_TIMEOUT_MS ?? 600000),
      allowExitOnIdle: env.PG_POOL_ALLOW_EXIT_ON_IDLE === "true",
    };
  }
  if (shape === "pool") {
    return { connectionString: url, ssl: twentySsl(env), max };
  }
  throw new Error(`unknown shape ${shape}: typeorm or pool`);
}

async function main() {
  const [shape, ...statements] = process.argv.slice(2);
  const pool = new Pool({ ...poolOptions(shape, process.env), connectionTimeoutMillis: 10000 });
  try {
    let result = { rows: [] };
    for (const sql of statements) {
      result = await pool.query(sql);
    }
    process.stdout.write(JSON.stringify(result.rows) + "\n");
  } finally {
    await pool.end();
  }
}

module.exports = { poolOptions };

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
}
