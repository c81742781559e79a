"""A real moto server with the project's patch loaded (`infra/moto` on PYTHONPATH, as every moto
the project starts), on a free 127.0.0.1 port, talked to through boto3; stopped by its PID.
Beside it, the helpers the tests share: tables, a rule with a queue target, a write loop."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

MOTO_DIR = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60
# No SDK retries: each test sees exactly what the endpoint answered.
CLIENT_CONFIG = Config(retries={"total_max_attempts": 1}, read_timeout=30)
INJECTED = re.compile(r"^orderflow-harsh: (\w+) (.*)$")


def _moto_binary() -> str:
    configured = os.environ.get("MOTO_SERVER")
    if configured:
        return configured
    return str(Path(sys.executable).parent / "moto_server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class MotoServer:
    def __init__(self, workdir: Path, spec: str | None, env: dict[str, str] | None = None):
        self.workdir = workdir
        self.log = workdir / "moto.log"
        self.spec_path = workdir / "harsh.spec" if spec is not None else None
        env = dict(os.environ, PYTHONPATH=str(MOTO_DIR), PYTHONUNBUFFERED="1", **(env or {}))
        env.pop("ORDERFLOW_HARSH_FILE", None)
        if self.spec_path is not None:
            self.set_spec(spec)
            env["ORDERFLOW_HARSH_FILE"] = str(self.spec_path)
        for _ in range(3):
            self.port = _free_port()
            with open(self.log, "w") as out:
                self.process = subprocess.Popen(
                    [_moto_binary(), "-H", "127.0.0.1", "-p", str(self.port)],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_until_ready():
                self.endpoint = f"http://127.0.0.1:{self.port}"
                return
        raise RuntimeError(f"moto did not start; its log:\n{self.log.read_text()}")

    def _wait_until_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "Address already in use" in self.log.read_text():
                    return False
                raise RuntimeError(f"moto exited at start; its log:\n{self.log.read_text()}")
            if _answers(self.port):
                return True
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto did not answer in {START_TIMEOUT_S} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def set_spec(self, text: str) -> None:
        """Replaces the spec file in one step (a new inode), as a run switching faults would."""
        assert self.spec_path is not None
        staging = self.spec_path.with_suffix(".new")
        staging.write_text(text)
        os.replace(staging, self.spec_path)

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=CLIENT_CONFIG,
        )

    def injected(self, kind: str, containing: str = "") -> list[str]:
        """The injected-event lines of one kind in the moto log (optionally naming something)."""
        lines = []
        for line in self.log.read_text().splitlines():
            m = INJECTED.match(line)
            if m and m.group(1) == kind and containing in m.group(2):
                lines.append(line)
        return lines


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_table(dynamodb) -> str:
    name = unique("t")
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def writes_until_refused(write):
    """How many writes succeed before the first refusal, how long that took, and the refusal."""
    began, count = time.monotonic(), 0
    while True:
        try:
            write(count)
        except ClientError as e:
            return count, time.monotonic() - began, e.response
        count += 1
        assert count < 10_000, "never refused"


class Route:
    """A queue, and a rule on the default bus that sends it every event of its own source."""

    def __init__(self, server):
        self.sqs, self.events = server.client("sqs"), server.client("events")
        self.queue = unique("q")
        self.url = self.sqs.create_queue(QueueName=self.queue)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        self.source = unique("test.harsh")
        self.rule = unique("r")
        self.events.put_rule(Name=self.rule, EventPattern=json.dumps({"source": [self.source]}))
        self.events.put_targets(
            Rule=self.rule, Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}]
        )

    def put(self, seqs):
        for seq in seqs:
            self.events.put_events(
                Entries=[
                    {"Source": self.source, "DetailType": "Seq", "Detail": json.dumps({"seq": seq})}
                ]
            )

    def receive(self, expected, within_s):
        """The `seq` of every message in arrival order, once `expected` arrived or time is up."""
        seqs, deadline = [], time.monotonic() + within_s
        while len(seqs) < expected and time.monotonic() < deadline:
            batch = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            for message in batch:
                seqs.append(json.loads(message["Body"])["detail"]["seq"])
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
            if not batch:
                time.sleep(0.05)
        # Anything more that was going to come comes within the longest delay.
        time.sleep(0.3)
        extra = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
        seqs += [json.loads(m["Body"])["detail"]["seq"] for m in extra.get("Messages", [])]
        return seqs
