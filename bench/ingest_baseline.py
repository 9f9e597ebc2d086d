#!/usr/bin/python3
"""Python baseline for bench/ingest: Kafka -> PostgreSQL exactly once, "the usual way".

usage: ingest_baseline.py --bootstrap HOST:PORT --topic T --dsn DSN --count N
                          [--group G] [--setup-only] [--timeout S]

What it does, per batch (consume() of up to 10000 messages or 100 ms):
  * json.loads each message and validates it like ctd does for a pipeline of 16 required
    numeric features f0..f15 with a binary label: a JSON object; "features" an object whose
    keys are all known and all 16 present, each a finite number (not a bool); "label" 0 or 1;
    "event_time" an integer epoch-ms in range; "id" absent or a string. Invalid records go
    to a quarantine table.
  * in ONE transaction: reserve a sequence range (UPDATE stream_sequences ... RETURNING, like
    ctd), COPY the rows (psycopg2 copy_expert, text format) into the samples table, COPY
    rejects into quarantine, and upsert the next offset of every partition in the batch into
    consumer_offsets; COMMIT;
  * then commit the same offsets to Kafka synchronously (consumer.commit(asynchronous=False)).
  * on partition assignment it seeks to the offsets stored in PostgreSQL, so a restart never
    duplicates or loses records.
The tables are ctd's own (apply ctd's schema to the database first with `ctd migrate`, as
bench/ingest does), so the baseline writes exactly what ctd writes: same columns, primary
key, unique (topic, partition, offset), foreign keys and float8[] features, and it follows
any change to ctd's migrations.
It stops once N records are durably stored and prints one JSON line on stdout:
  {"stored": N, "seconds": total, "first_commit_seconds": t, "peak_rss_kb": VmHWM, ...}
"seconds" runs from the start of this script (before the imports) to the COMMIT that stored
the N-th record. Needs Debian's python3-confluent-kafka and python3-psycopg2 (/usr/bin/python3).
"""
import time

T0 = time.monotonic()

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

import psycopg2  # noqa: E402
import psycopg2.extras  # noqa: E402
from confluent_kafka import Consumer, KafkaError, TopicPartition  # noqa: E402

FEATURES = [f"f{j}" for j in range(16)]
FEATURE_SET = frozenset(FEATURES)
PIPELINE = "bench"
# ctd accepts event times from 1970 to 9999-12-31.
MIN_EVENT_MS, MAX_EVENT_MS = 0, 253402300799999


# COPY text format escaping for free-form strings (the sample id).
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def peak_rss_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def is_number(value):
    return (type(value) is float and math.isfinite(value)) or type(value) is int


class Reject(Exception):
    """A record that fails validation; args[0] is the reason code."""


def validate(record):
    """Returns (sample_id, event_ms, label, [16 floats]) or raises Reject(reason)."""
    if type(record) is not dict:
        raise Reject("not_an_object")
    features = record.get("features")
    if type(features) is not dict:
        raise Reject("missing_features")
    if len(features) != len(FEATURES) or not FEATURE_SET.issuperset(features):
        raise Reject("unknown_or_missing_feature")
    values = [features[name] for name in FEATURES]
    for value in values:
        if not is_number(value):
            raise Reject("bad_feature_value")
    label = record.get("label")
    if type(label) not in (int, float) or label not in (0, 1):
        raise Reject("bad_label")
    event_ms = record.get("event_time")
    if type(event_ms) is not int or not MIN_EVENT_MS <= event_ms <= MAX_EVENT_MS:
        raise Reject("bad_event_time")
    sample_id = record.get("id")
    if sample_id is not None and type(sample_id) is not str:
        raise Reject("bad_id")
    return sample_id, event_ms, label, values


def setup(conn, topic):
    """Registers the pipeline, its topic and feature schema in ctd's tables."""
    with conn.cursor() as cur:
        cur.execute("INSERT INTO pipelines (name) VALUES (%s) ON CONFLICT (name) DO UPDATE "
                    "SET name = EXCLUDED.name RETURNING pipeline_id", (PIPELINE,))
        pipeline_id = cur.fetchone()[0]
        cur.execute("INSERT INTO stream_sequences (pipeline_id, stream) VALUES (%s, 'labels') "
                    "ON CONFLICT DO NOTHING", (pipeline_id,))
        cur.execute("INSERT INTO topics (name) VALUES (%s) ON CONFLICT (name) DO UPDATE "
                    "SET name = EXCLUDED.name RETURNING topic_id", (topic,))
        topic_id = cur.fetchone()[0]
        definition = json.dumps({"numeric": [{"name": f, "required": True} for f in FEATURES],
                                 "categorical": []})
        cur.execute("INSERT INTO feature_schemas (pipeline_id, fingerprint, definition) "
                    "VALUES (%s, 'python-baseline', %s::jsonb) "
                    "ON CONFLICT (pipeline_id, fingerprint) DO UPDATE "
                    "SET definition = EXCLUDED.definition RETURNING schema_id",
                    (pipeline_id, definition))
        schema_id = cur.fetchone()[0]
    conn.commit()
    return pipeline_id, topic_id, schema_id


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--group", default="py-bench")
    parser.add_argument("--batch", type=int, default=10000)
    parser.add_argument("--setup-only", action="store_true")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    conn = psycopg2.connect(args.dsn)
    pipeline_id, topic_id, schema_id = setup(conn, args.topic)
    if args.setup_only:
        return 0

    def on_assign(consumer, partitions):
        # Exactly once: resume from the offsets stored with the data, not Kafka's.
        with conn.cursor() as cur:
            cur.execute("SELECT kafka_partition, next_offset FROM consumer_offsets "
                        "WHERE topic_id = %s", (topic_id,))
            stored = dict(cur.fetchall())
        conn.commit()
        for tp in partitions:
            if tp.partition in stored:
                tp.offset = stored[tp.partition]
        consumer.assign(partitions)

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    consumer.subscribe([args.topic], on_assign=on_assign)

    copy_samples = ("COPY samples (pipeline_id, seq, schema_id, topic_id, kafka_partition, "
                    "kafka_offset, sample_id, event_time, label, weight, numeric, categorical) "
                    "FROM STDIN")
    copy_quarantine = ("COPY quarantine (pipeline_id, stream, topic_id, kafka_partition, "
                       "kafka_offset, reason, detail, raw, raw_size) FROM STDIN WITH (FORMAT csv)")
    stored = rejected = batches = 0
    first_commit = None
    fixed = f"{pipeline_id}\t"
    while stored + rejected < args.count:
        if time.monotonic() - T0 > args.timeout:
            print(f"baseline: timed out after {args.timeout}s with {stored} stored",
                  file=sys.stderr)
            return 1
        messages = consumer.consume(num_messages=args.batch, timeout=0.1)
        if not messages:
            continue
        rows = []
        rejects = []
        next_offsets = {}
        for message in messages:
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    print(f"baseline: consumer error: {message.error()}", file=sys.stderr)
                continue
            partition, offset = message.partition(), message.offset()
            next_offsets[partition] = offset + 1
            raw = message.value()
            try:
                sample_id, event_ms, label, values = validate(json.loads(raw))
            except Reject as e:
                rejects.append((partition, offset, e.args[0], raw))
                continue
            except ValueError:  # json.JSONDecodeError, UnicodeDecodeError
                rejects.append((partition, offset, "bad_json", raw))
                continue
            event_time = datetime.fromtimestamp(event_ms / 1000, timezone.utc).isoformat()
            sid = "\\N" if sample_id is None else sample_id.translate(_ESCAPE)
            rows.append(f"{partition}\t{offset}\t{sid}\t{event_time}\t{float(label)!r}\t1\t"
                        "{" + ",".join(map(repr, map(float, values))) + "}\t\\N\n")
        if not next_offsets:
            continue
        with conn.cursor() as cur:
            cur.execute("UPDATE stream_sequences SET next_seq = next_seq + %s "
                        "WHERE pipeline_id = %s AND stream = 'labels' RETURNING next_seq",
                        (len(rows), pipeline_id))
            seq = cur.fetchone()[0] - len(rows)
            buf = io.StringIO()
            for i, row in enumerate(rows):
                buf.write(f"{fixed}{seq + i}\t{schema_id}\t{topic_id}\t{row}")
            buf.seek(0)
            cur.copy_expert(copy_samples, buf)
            if rejects:
                qbuf = io.StringIO()
                for partition, offset, reason, raw in rejects:
                    qbuf.write(f"{pipeline_id},labels,{topic_id},{partition},{offset},{reason},"
                               f"{reason},\\x{raw[:4096].hex()},{len(raw)}\n")
                qbuf.seek(0)
                cur.copy_expert(copy_quarantine, qbuf)
            psycopg2.extras.execute_values(
                cur,
                "INSERT INTO consumer_offsets (topic_id, kafka_partition, next_offset) "
                "VALUES %s ON CONFLICT (topic_id, kafka_partition) DO UPDATE "
                "SET next_offset = EXCLUDED.next_offset, updated_at = now()",
                [(topic_id, p, o) for p, o in next_offsets.items()])
        conn.commit()
        stored += len(rows)
        rejected += len(rejects)
        batches += 1
        if first_commit is None:
            first_commit = time.monotonic() - T0
            first_stored = stored
        # Only after the database commit: tell Kafka (advisory; PostgreSQL holds the truth).
        consumer.commit(offsets=[TopicPartition(args.topic, p, o)
                                 for p, o in next_offsets.items()], asynchronous=False)
    seconds = time.monotonic() - T0
    result = {
        "stored": stored,
        "rejected": rejected,
        "batches": batches,
        "seconds": round(seconds, 3),
        "first_commit_seconds": round(first_commit, 3),
        "rate": round(stored / seconds, 1),
        # From the first commit on: excludes startup and the consumer group join.
        "steady_rate": round((stored - first_stored) / (seconds - first_commit), 1)
        if stored > first_stored else None,
        "peak_rss_kb": peak_rss_kb(),
        "cpu_seconds": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 2),
    }
    consumer.close()
    conn.close()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
