#!/usr/bin/env bash
# After a deploy: print the stack's status and outputs, then GET the public catalog on ApiUrl
# (no token needed). In GitHub Actions it also hands ApiUrl to the job (`api_url` output).
# Usage: infra/deploy/smoke.sh STACK_NAME   (AWS credentials and region from the environment)
set -euo pipefail
stack=${1:?usage: smoke.sh STACK_NAME}

aws cloudformation describe-stacks --stack-name "$stack" \
  --query 'Stacks[0].[StackName,StackStatus]' --output text
aws cloudformation describe-stacks --stack-name "$stack" \
  --query 'Stacks[0].Outputs' --output table
api_url=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue" --output text)
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  echo "api_url=$api_url" >> "$GITHUB_OUTPUT"
fi
# A few tries: a new HTTP API stage can take a moment to answer.
for attempt in 1 2 3 4 5; do
  if curl --fail --silent --show-error --max-time 20 "${api_url%/}/products" > /dev/null; then
    echo "GET ${api_url%/}/products: 200"
    exit 0
  fi
  echo "GET ${api_url%/}/products failed (attempt $attempt)" >&2
  sleep $((attempt * 3))
done
exit 1
