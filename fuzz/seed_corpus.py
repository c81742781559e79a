#!/usr/bin/env python3
"""Seeds the fuzz corpora from the fixtures in events/ (run by `make fuzz-smoke` and `make fuzz`):

    python3 fuzz/seed_corpus.py

- parse_place_order: the body of every apigw-post-order-*.json request, decoded as lambda_http
  decodes it (base64 when isBase64Encoded), that is, the bytes the handler parses;
- event_parsing: every sqs-*.json batch whole (the batch runner path) and each record's body
  on its own (an EventBridge event as SQS delivers it).

The corpora are generated (and grow as libFuzzer keeps the inputs that find new paths), so
fuzz/corpus/ is not committed. Seed files are named after their fixture and are rewritten on
every run.
"""
import base64
import json
import pathlib

FUZZ = pathlib.Path(__file__).resolve().parent
EVENTS = FUZZ.parent / "events"
# A larger seed would raise libFuzzer's input length for every run; the 413 case has a unit test.
MAX_SEED_BYTES = 16 * 1024


def write(target, name, data):
    if len(data) > MAX_SEED_BYTES:
        print(f"  {target}: skipped {name} ({len(data)} bytes)")
        return 0
    folder = FUZZ / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return 1


def main():
    counts = {"parse_place_order": 0, "event_parsing": 0}
    for path in sorted(EVENTS.glob("apigw-post-order*.json")):
        request = json.loads(path.read_text())
        body = request.get("body") or ""
        data = base64.b64decode(body) if request.get("isBase64Encoded") else body.encode()
        counts["parse_place_order"] += write("parse_place_order", f"seed-{path.stem}", data)
    for path in sorted(EVENTS.glob("sqs-*.json")):
        raw = path.read_bytes()
        counts["event_parsing"] += write("event_parsing", f"seed-{path.stem}", raw)
        for i, record in enumerate(json.loads(raw).get("Records", [])):
            body = (record.get("body") or "").encode()
            counts["event_parsing"] += write("event_parsing", f"seed-{path.stem}-record-{i}", body)
    for target, n in counts.items():
        print(f"  {target}: {n} seed files in fuzz/corpus/{target}/")


if __name__ == "__main__":
    main()
