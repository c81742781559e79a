#!/usr/bin/env python3
"""Deploys what `make package` built (.aws-sam/build) to a running MiniStack, the way a user would
deploy it to AWS: a bucket for the artifacts, `sam deploy --config-env local`, then the catalog
seeded into the deployed inventory table, and the stack's status and outputs printed.

Run by `make ministack-deploy` with .venv's python (boto3 comes with aws-sam-cli). Each step
prints how long it took. Exits non-zero if the stack does not end CREATE_COMPLETE or
UPDATE_COMPLETE.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request

import boto3
from botocore.exceptions import ClientError

DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


def step(label, started):
    print(f"[{time.monotonic() - started:6.1f} s] {label}", flush=True)


def wait_healthy(endpoint, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/_ministack/health", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"no MiniStack answers at {endpoint} (start it with `make ministack`)")
            time.sleep(0.5)


def ensure_bucket(s3, bucket):
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def product_item(product):
    # The shape shared::adapters::dynamodb::item::product_to_item writes.
    price = product["price"]
    return {
        "pk": {"S": f"SKU#{product['sku']}"},
        "sku": {"S": product["sku"]},
        "name": {"S": product["name"]},
        "price": {"M": {"amount": {"N": str(price["amount"])}, "currency": {"S": price["currency"]}}},
        "stock": {"N": str(product["stock"])},
    }


def seed(dynamodb, table, path):
    with open(path, encoding="utf-8") as f:
        catalog = json.load(f)
    for start in range(0, len(catalog), 25):
        requests = [{"PutRequest": {"Item": product_item(p)}} for p in catalog[start : start + 25]]
        pending = {table: requests}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return len(catalog)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"))
    parser.add_argument("--config-file", required=True, help="absolute path of infra/samconfig.toml")
    parser.add_argument("--config-env", default="local")
    parser.add_argument("--seed", help="catalog JSON to write into the inventory table")
    args = parser.parse_args()
    if not args.endpoint:
        sys.exit("--endpoint or AWS_ENDPOINT_URL: the MiniStack endpoint")

    with open(args.config_file, "rb") as f:
        config = tomllib.load(f)[args.config_env]
    stack = config["global"]["parameters"]["stack_name"]
    region = config["global"]["parameters"]["region"]
    bucket = config["deploy"]["parameters"]["s3_bucket"]

    # MiniStack's account key, whatever the environment holds: under AUTH=true it refuses any
    # other, and real AWS credentials have no business going to an emulator.
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_SESSION_TOKEN", "AWS_PROFILE")}
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    env.update(AWS_ENDPOINT_URL=args.endpoint, AWS_DEFAULT_REGION=region, AWS_REGION=region,
               SAM_CLI_TELEMETRY="0")
    os.environ.update(env)
    session = boto3.session.Session(region_name=region)
    started = time.monotonic()

    wait_healthy(args.endpoint)
    step(f"MiniStack answers at {args.endpoint}", started)
    ensure_bucket(session.client("s3", endpoint_url=args.endpoint), bucket)
    step(f"bucket s3://{bucket}", started)

    # The sam of the virtualenv this runs in (.venv), else the one on PATH.
    sam = os.path.join(os.path.dirname(sys.executable), "sam")
    sam = sam if os.path.exists(sam) else shutil.which("sam") or "sam"
    deploy = [sam, "deploy", "--config-file", args.config_file, "--config-env", args.config_env,
              "--no-progressbar"]
    print("$", " ".join(deploy), flush=True)
    subprocess.run(deploy, env=env, check=True)
    step(f"sam deploy of stack {stack}", started)

    cfn = session.client("cloudformation", endpoint_url=args.endpoint)
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    if args.seed:
        count = seed(session.client("dynamodb", endpoint_url=args.endpoint),
                     outputs["InventoryTableName"], args.seed)
        step(f"seeded {count} products into {outputs['InventoryTableName']}", started)

    print(json.dumps({"stack": stack, "status": described["StackStatus"], "outputs": outputs},
                     indent=2))
    if described["StackStatus"] not in DONE:
        sys.exit(f"stack {stack} is {described['StackStatus']}")


if __name__ == "__main__":
    main()
