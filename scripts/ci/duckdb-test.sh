#!/usr/bin/env bash
# --format parquet read by DuckDB (Node's @duckdb/node-api, as a researcher's notebook or script reads it):
#   the parquet, jsonl and csv of one run (a broken image and tests/images) give DuckDB the same rows: file, the
#   top-k labels, classes, synsets and scores (as the six decimals jsonl and csv print), the error's code, kind and
#   message, and the provenance; the parquet keeps the input order;
#   a sharded run (--shard 0/2, --shard 1/2) joined by `classify merge` equals one run, read by DuckDB, and each shard
#   carries its trailer in the file's key-value metadata;
#   the parquet writer's memory bound: 100,000 and 1,000,000 synthetic records (scripts/bench/ParquetMemoryBench), the peak
#   resident memory of each under the bound README states, the larger run no higher than the smaller one plus a margin.
# DuckDB is installed with npm into a cache folder (~/.cache/classify-ci/duckdb), so a second run needs no network;
# node and npm come from apt-get where missing. CLASSIFY_DUCKDB_APP=path/to/classify tests that binary (the AOT one
# of scripts/install.sh, say) instead of the Release build made here.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=scripts/ci/lib.sh
. "$repo/scripts/ci/lib.sh"

app=${CLASSIFY_DUCKDB_APP:-}
if [ -z "$app" ]; then
  if ! dotnet build "$repo/src/Classify.Cli" -c Release -nologo -v q >"$work/build.log" 2>&1; then
    fail "build classify (Release)" "$(tail -n 3 "$work/build.log" | tr '\n' ' ')"; finish
  fi
  app=$repo/src/Classify.Cli/bin/Release/net10.0/classify
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install "$work/apt.log" nodejs npm || true
fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/classify-ci/duckdb
duckdb_version=1.5.6-r.1
if [ ! -f "$cache/node_modules/@duckdb/node-api/package.json" ] \
  || ! grep -q "\"version\": \"$duckdb_version\"" "$cache/node_modules/@duckdb/node-api/package.json"; then
  mkdir -p "$cache"
  if ! npm install --prefix "$cache" --no-audit --no-fund "@duckdb/node-api@$duckdb_version" >"$work/npm.log" 2>&1; then
    fail "npm install @duckdb/node-api@$duckdb_version" "$(tail -n 5 "$work/npm.log" | tr '\n' ' ')"; finish
  fi
fi

# query.cjs SQLFILE: runs the file's statements (separated by ';' at a line end) in one in-memory DuckDB and prints,
# for each statement headed '-- NAME', the line 'NAME<TAB>' and its rows as JSON.
cat >"$work/query.cjs" <<'EOF'
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const sql = require('fs').readFileSync(process.argv[2], 'utf8');
  for (const statement of sql.split(/;\s*\n/).map(s => s.trim()).filter(s => s)) {
    const r = await c.runAndReadAll(statement);
    const name = /^-- (\S+)/.exec(statement);
    if (name) console.log(name[1] + '\t' + JSON.stringify(r.getRowsJson()));
  }
})().catch(e => { console.error(String(e.message || e).split('\n')[0]); process.exit(1); });
EOF
# answers SQLFILE: query.cjs's output, or a failure naming the error.
answers() { NODE_PATH=$cache/node_modules node "$work/query.cjs" "$1" 2>"$work/node.err"; }
# answer NAME: the JSON rows of check NAME in $work/answers.
answer() { awk -F'\t' -v n="$1" '$1 == n { print $2 }' "$work/answers"; }
# expect WHAT NAME JSON: passes when check NAME's rows are JSON.
expect() {
  local got
  got=$(answer "$2")
  if [ "$got" = "$3" ]; then pass "$1"; else fail "$1" "DuckDB says $got, expected $3"; fi
}

# --- One run in three formats.
head -c 300 "$repo/tests/images/chelsea.png" >"$work/broken.png"
inputs=("$work/broken.png" "$repo/tests/images")
for f in parquet jsonl csv; do
  "$app" "${inputs[@]}" -o "$work/r.$f" 2>"$work/$f.err"; code=$?
  [ "$code" = 7 ] || fail "classify -o r.$f" "exit $code (expected 7: one image failed): $(head -c 300 "$work/$f.err")"
done

cat >"$work/formats.sql" <<EOF
create view p as select file, label, class, synset, list_transform(score, s -> printf('%.6f', s::double)) as score,
  error, error_code, error_kind, model, model_sha256, classify_version from read_parquet('$work/r.parquet');
create view j as select file, list_transform(predictions, x -> x.label) as label, list_transform(predictions, x -> x.class) as class,
  list_transform(predictions, x -> x.synset) as synset, list_transform(predictions, x -> printf('%.6f', x.score)) as score,
  error.message as error, error.code as error_code, error.kind as error_kind, model, model_sha256, classify_version
  from read_json('$work/r.jsonl', format = 'newline_delimited');
create view c as select file, case when count(rank) = 0 then null else list(label order by rank) end as label,
  case when count(rank) = 0 then null else list(class order by rank) end as class,
  case when count(rank) = 0 then null else list(synset order by rank) end as synset,
  case when count(rank) = 0 then null else list(printf('%.6f', score) order by rank) end as score,
  any_value(error) as error, any_value(error_code) as error_code, any_value(error_kind) as error_kind,
  any_value(model) as model, any_value(model_sha256) as model_sha256, any_value(classify_version) as classify_version
  from read_csv('$work/r.csv', header = true, types = {'rank': 'INTEGER', 'class': 'INTEGER', 'score': 'DOUBLE', 'error_code': 'INTEGER'})
  group by file;
-- counts
select (select count(*) from p), (select count(*) from j), (select count(*) from c);
-- parquet_not_jsonl
select count(*) from (select * from p except all select * from j);
-- jsonl_not_parquet
select count(*) from (select * from j except all select * from p);
-- parquet_not_csv
select count(*) from (select * from p except all select * from c);
-- csv_not_parquet
select count(*) from (select * from c except all select * from p);
-- order
select (select string_agg(file, '|' order by file_row_number) from read_parquet('$work/r.parquet', file_row_number = true))
  = (select string_agg(file, '|') from read_json('$work/r.jsonl', format = 'newline_delimited'));
-- errors
select error_code, error_kind, label is null, score is null from p where error is not null;
-- top1
select label[1], score[1] from p where file like '%/chelsea.png';
-- provenance
select count(*) from p where model is null or model_sha256 is null or classify_version is null;
-- compression
select distinct compression from parquet_metadata('$work/r.parquet');
EOF
if answers "$work/formats.sql" >"$work/answers"; then
  expect "DuckDB reads 5 rows from each of parquet, jsonl and csv" counts '[["5","5","5"]]'
  for pair in parquet_not_jsonl jsonl_not_parquet parquet_not_csv csv_not_parquet; do
    expect "DuckDB: no row of ${pair/_not_/ that is not in }" "$pair" '[["0"]]'
  done
  expect "DuckDB: the parquet's rows are in input order, as jsonl's" order '[[true]]'
  expect "DuckDB: the broken image is a row with error_code 5 (ImageCorrupt) and null lists" errors '[[5,"ImageCorrupt",true,true]]'
  if [ "$(answer top1)" = '[["Egyptian cat","0.759027"]]' ]; then pass "DuckDB: chelsea.png's top-1 is Egyptian cat 0.759027"
  else fail "DuckDB: chelsea.png's top-1 is Egyptian cat 0.759027" "$(answer top1)"; fi
  expect "DuckDB: every row names model, model_sha256 and classify_version" provenance '[["0"]]'
  expect "DuckDB: the parquet is zstd-compressed" compression '[["ZSTD"]]'
else
  fail "DuckDB reads the three formats" "$(cat "$work/node.err")"
fi

# --- A sharded run, merged, equals one run.
for i in 0 1; do
  "$app" "${inputs[@]}" --shard "$i/2" -o "$work/s.{shard}.parquet" 2>"$work/shard$i.err"
done
shards=("$work"/s.shard-*.parquet)
if [ "${#shards[@]}" = 2 ] && "$app" merge -o "$work/merged.parquet" "${shards[@]}" 2>"$work/merge.err"; then
  cat >"$work/shards.sql" <<EOF
-- merged_not_one
select count(*) from (select * from read_parquet('$work/merged.parquet') except all select * from read_parquet('$work/r.parquet'));
-- one_not_merged
select count(*) from (select * from read_parquet('$work/r.parquet') except all select * from read_parquet('$work/merged.parquet'));
-- merged_order
select (select string_agg(file, '|' order by file_row_number) from read_parquet('$work/merged.parquet', file_row_number = true))
  = (select string_agg(file, '|' order by file_row_number) from read_parquet('$work/r.parquet', file_row_number = true));
-- trailers
select count(*), min(decode(value)::json->'classify_shard'->>'count') from parquet_kv_metadata('$work/s.shard-*.parquet') where key = 'classify_shard';
EOF
  if answers "$work/shards.sql" >"$work/answers"; then
    expect "DuckDB: the merge of --shard 0/2 and 1/2 has no row that one run lacks" merged_not_one '[["0"]]'
    expect "DuckDB: one run has no row that the merge lacks" one_not_merged '[["0"]]'
    expect "DuckDB: the merge's rows are in one run's order" merged_order '[[true]]'
    expect "DuckDB: each shard carries its trailer in the key-value metadata" trailers '[["2","2"]]'
  else
    fail "DuckDB reads the shards and the merge" "$(cat "$work/node.err")"
  fi
  if cmp -s "$work/merged.parquet" "$work/r.parquet"; then pass "the merged parquet is one run's file byte for byte"
  else fail "the merged parquet is one run's file byte for byte" "they differ"; fi
else
  fail "classify --shard I/2 -o s.{shard}.parquet, then classify merge" "${#shards[@]} shards; $(cat "$work"/shard*.err "$work/merge.err" 2>/dev/null | head -c 400)"
fi

# --- The writer's memory bound (README, Parquet): peak RSS of the whole benchmark process, in MB.
bound_mb=150
if dotnet build "$repo/scripts/bench/ParquetMemoryBench" -c Release -nologo -v q >"$work/bench-build.log" 2>&1; then
  bench=$repo/scripts/bench/ParquetMemoryBench/bin/Release/net10.0/ParquetMemoryBench
  peaks=()
  for rows in 100000 1000000; do
    line=$("$bench" "$rows" 2>&1 | tail -n 1)
    echo "$line"
    peak=$(echo "$line" | sed -nE 's/.* ([0-9.]+) MB after;.*/\1/p')
    held=$(echo "$line" | sed -nE 's/.*at most ([0-9]+) rows held.*/\1/p')
    peaks+=("${peak%.*}")
    if [ -n "$peak" ] && [ "${peak%.*}" -lt "$bound_mb" ] && [ "$held" -le 10000 ]; then
      pass "$rows records through the parquet writer: peak RSS ${peak} MB (bound $bound_mb MB), at most $held rows held"
    else
      fail "$rows records through the parquet writer within $bound_mb MB" "$line"
    fi
  done
  if [ "${#peaks[@]}" = 2 ] && [ "${peaks[1]}" -le $((peaks[0] + 30)) ]; then
    pass "ten times the records, peak RSS within 30 MB of the smaller run's (${peaks[0]} MB, then ${peaks[1]} MB)"
  else
    fail "ten times the records, peak RSS within 30 MB of the smaller run's" "peaks ${peaks[*]} MB"
  fi
else
  fail "build scripts/bench/ParquetMemoryBench" "$(tail -n 3 "$work/bench-build.log" | tr '\n' ' ')"
fi

finish
