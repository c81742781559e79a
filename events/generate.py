#!/usr/bin/env python3
"""Writes the event fixtures in this folder. Run it after changing an event shape:

    python3 events/generate.py

Fixtures are committed; tests load them (every file is referenced by a test).
Names are <source>-<what>.json: apigw-* are API Gateway HTTP API (v2) requests,
sqs-* are SQS batches whose bodies are EventBridge events wrapping an orderflow envelope.

Products and prices come from infra/seed/catalog.json, the catalog `make dev` seeds, so the
fixtures work against the local cloud as they work in the unit tests: `orderflow local fixtures
load FIXTURE` puts the orders an SQS fixture names into a running cloud, each in the state its
event finds it in (fixture-orders.json, written here, says what each order holds).
"""
import base64
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
SEED = {p["sku"]: p for p in json.loads((HERE.parent / "infra/seed/catalog.json").read_text())}
TSHIRT = "SKU-TSHIRT-M"
MUG = "SKU-MUG-350"
ACCOUNT = "123456789012"
REGION = "us-east-1"
ORDER_ID = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
DECLINED_ORDER_ID = "7a2b3c4d-5e6f-4a70-9b8c-0d1e2f3a4b5c"
GATEWAY_ERROR_ORDER_ID = "8b3c4d5e-6f70-4b81-8c9d-1e2f3a4b5c6d"
SECOND_ORDER_ID = "9c4d5e6f-7081-4c92-9dae-2f3a4b5c6d7e"
UNKNOWN_ORDER_ID = "00000000-0000-4000-8000-000000000000"
TIME = "2026-11-24T10:00:00Z"

VALID_ORDER = {
    "customerId": "cust-42",
    "email": "ana@example.com",
    "items": [{"sku": TSHIRT, "quantity": 2}, {"sku": MUG, "quantity": 1}],
    "paymentToken": "tok_visa",
}


def write(name, value):
    (HERE / name).write_text(json.dumps(value, indent=2) + "\n")


def apigw(method, path, body=None, content_type="application/json", path_parameters=None,
          base64_body=False, subject="cust-42"):
    """An HTTP API (payload 2.0) event. Order routes sit behind the JWT authorizer, which hands
    the function the token's claims; `subject=None` is a request that carries none."""
    route = "POST /orders" if method == "POST" else (
        "GET /orders/{orderId}" if path.startswith("/orders/") else f"{method} {path}")
    event = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json", "host": "api.example.com",
                    "user-agent": "curl/8.5.0"},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abc123",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.10", "userAgent": "curl/8.5.0"},
            "requestId": "req-" + method.lower() + path.replace("/", "-"),
            "routeKey": route,
            "stage": "$default",
            "time": "24/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795514400000,
        },
        "isBase64Encoded": False,
    }
    if subject is not None and path.startswith("/orders"):
        event["requestContext"]["authorizer"] = {"jwt": {"claims": {
            "iss": "https://auth.example.com/", "aud": "orderflow-api", "sub": subject,
            "iat": "1795514400", "exp": "1795518000"}, "scopes": None}}
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        if content_type:
            event["headers"]["content-type"] = content_type
        if base64_body:
            event["body"] = base64.b64encode(body.encode()).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = body
    return event


def post_order(body, **kw):
    text = body if isinstance(body, str) else json.dumps(body)
    return apigw("POST", "/orders", body=text, **kw)


def money(amount):
    return {"amount": amount, "currency": "EUR"}


def price(sku):
    return SEED[sku]["price"]["amount"]


LINES = [
    {"sku": TSHIRT, "quantity": 2, "unitPrice": money(price(TSHIRT))},
    {"sku": MUG, "quantity": 1, "unitPrice": money(price(MUG))},
]
TOTAL = money(sum(line["quantity"] * line["unitPrice"]["amount"] for line in LINES))


def envelope(event_type, order_id, data, n, causation=None):
    metadata = {
        "eventId": f"00000000-0000-4000-8000-{n:012d}",
        "type": event_type,
        "version": 1,
        "correlationId": order_id,
        "occurredAt": TIME,
    }
    if causation:
        metadata["causationId"] = causation
    return {"metadata": metadata, "data": {"orderId": order_id, **data}}


def eventbridge(detail, n):
    return {
        "version": "0",
        "id": f"eb-{n:04d}",
        "detail-type": detail["metadata"]["type"],
        "source": "orderflow",
        "account": ACCOUNT,
        "time": TIME,
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def sqs_record(body, n, queue):
    return {
        "messageId": f"msg-{n:04d}",
        "receiptHandle": f"rh-{n:04d}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795514400000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1795514400100",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orderflow-{queue}",
        "awsRegion": REGION,
    }


def sqs_batch(queue, *bodies):
    return {"Records": [sqs_record(b, i + 1, queue) for i, b in enumerate(bodies)]}


def customer(order_id):
    return {"customerId": "cust-42", "email": "ana@example.com", "orderId": order_id}


def main():
    # API Gateway HTTP API (v2) requests.
    write("apigw-post-order.json", post_order(VALID_ORDER))
    write("apigw-post-order-base64.json", post_order(VALID_ORDER, base64_body=True))
    write("apigw-post-order-malformed-json.json", post_order('{"customerId": "cust-42", "items": ['))
    write("apigw-post-order-missing-fields.json",
          post_order({"customerId": "cust-42", "items": VALID_ORDER["items"]}))
    write("apigw-post-order-invalid-fields.json", post_order({
        "customerId": 42,
        "email": "not-an-email",
        "items": [{"sku": TSHIRT, "quantity": 0}, {"sku": "mug", "quantity": 1}],
        "paymentToken": "4111111111111111",
    }))
    write("apigw-post-order-client-price.json", post_order({
        **VALID_ORDER,
        "items": [{"sku": TSHIRT, "quantity": 1, "unitPrice": money(1)}],
    }))
    write("apigw-post-order-duplicate-sku.json", post_order({
        **VALID_ORDER,
        "items": [{"sku": MUG, "quantity": 1}, {"sku": MUG, "quantity": 2}],
    }))
    write("apigw-post-order-empty-items.json", post_order({**VALID_ORDER, "items": []}))
    write("apigw-post-order-too-many-lines.json", post_order({
        **VALID_ORDER,
        "items": [{"sku": f"SKU-ITEM-{i}", "quantity": 1} for i in range(51)],
    }))
    write("apigw-post-order-too-large.json", post_order({**VALID_ORDER, "note": "x" * (65 * 1024)}))
    write("apigw-post-order-not-json.json",
          post_order(f"customerId=cust-42&sku={MUG}", content_type="application/x-www-form-urlencoded"))
    write("apigw-post-order-unknown-sku.json", post_order({
        **VALID_ORDER,
        "items": [{"sku": TSHIRT, "quantity": 1}, {"sku": "SKU-DOES-NOT-EXIST", "quantity": 1}],
    }))
    write("apigw-get-order.json",
          apigw("GET", f"/orders/{ORDER_ID}", path_parameters={"orderId": ORDER_ID}))
    write("apigw-get-order-unknown.json",
          apigw("GET", f"/orders/{UNKNOWN_ORDER_ID}", path_parameters={"orderId": UNKNOWN_ORDER_ID}))
    write("apigw-get-order-invalid-id.json",
          apigw("GET", "/orders/not-a-uuid", path_parameters={"orderId": "not-a-uuid"}))
    write("apigw-get-products.json", apigw("GET", "/products"))
    write("apigw-post-order-no-token.json", post_order(VALID_ORDER, subject=None))
    write("apigw-post-order-other-customer.json", post_order(VALID_ORDER, subject="cust-7"))
    write("apigw-get-order-no-token.json",
          apigw("GET", f"/orders/{ORDER_ID}", path_parameters={"orderId": ORDER_ID},
                subject=None))
    write("apigw-get-order-other-customer.json",
          apigw("GET", f"/orders/{ORDER_ID}", path_parameters={"orderId": ORDER_ID},
                subject="cust-7"))

    # SQS batches of EventBridge events, one fixture per event type and consumer.
    placed = envelope("OrderPlaced", ORDER_ID, {
        **customer(ORDER_ID), "lines": LINES, "total": TOTAL, "paymentToken": "tok_visa"}, 1)
    write("sqs-order-placed.json", sqs_batch("InventoryQueue", eventbridge(placed, 1)))

    second_placed = envelope("OrderPlaced", SECOND_ORDER_ID, {
        **customer(SECOND_ORDER_ID), "lines": LINES[1:], "total": money(price(MUG)),
        "paymentToken": "tok_visa"}, 2)
    write("sqs-batch-with-malformed-record.json", sqs_batch(
        "InventoryQueue", eventbridge(placed, 1), '{"detail-type": "OrderPlaced", "detail": {',
        eventbridge(second_placed, 3)))

    unknown_type = envelope("OrderShipped", ORDER_ID, {}, 3)
    newer = envelope("OrderPlaced", ORDER_ID, placed["data"], 4)
    newer["metadata"]["version"] = 2
    write("sqs-unsupported-events.json",
          sqs_batch("InventoryQueue", eventbridge(unknown_type, 4), eventbridge(newer, 5)))

    failed = envelope("PaymentFailed", DECLINED_ORDER_ID, {
        **customer(DECLINED_ORDER_ID), "total": TOTAL, "reason": "card declined by issuer"}, 6,
        causation="00000000-0000-4000-8000-000000000007")
    write("sqs-payment-failed.json", sqs_batch("InventoryQueue", eventbridge(failed, 6)))

    def reserved(order_id, token, n):
        return envelope("InventoryReserved", order_id, {
            **customer(order_id), "lines": LINES, "total": TOTAL, "paymentToken": token}, n,
            causation="00000000-0000-4000-8000-000000000001")

    write("sqs-inventory-reserved.json",
          sqs_batch("PaymentQueue", eventbridge(reserved(ORDER_ID, "tok_visa", 8), 8)))
    write("sqs-inventory-reserved-declined.json",
          sqs_batch("PaymentQueue", eventbridge(reserved(DECLINED_ORDER_ID, "tok_declined", 9), 9)))
    write("sqs-inventory-reserved-gateway-error.json", sqs_batch(
        "PaymentQueue", eventbridge(reserved(GATEWAY_ERROR_ORDER_ID, "tok_gateway_error", 10), 10),
        eventbridge(reserved(ORDER_ID, "tok_visa", 11), 11)))

    succeeded = envelope("PaymentSucceeded", ORDER_ID, {
        **customer(ORDER_ID), "total": TOTAL, "chargeId": "ch_6f1a2b3c4d5e4f608a7b9c0d1e2f3a4b"}, 12)
    rejected = envelope("InventoryRejected", SECOND_ORDER_ID, {
        **customer(SECOND_ORDER_ID),
        "shortages": [{"sku": MUG, "requested": 1, "available": 0}]}, 13)
    released = envelope("InventoryReleased", DECLINED_ORDER_ID, {
        **customer(DECLINED_ORDER_ID), "lines": LINES}, 14)
    write("sqs-payment-succeeded.json", sqs_batch("NotificationQueue", eventbridge(succeeded, 12)))
    write("sqs-inventory-rejected.json", sqs_batch("NotificationQueue", eventbridge(rejected, 13)))
    write("sqs-inventory-released.json", sqs_batch("NotificationQueue", eventbridge(released, 14)))

    expired = envelope("ReservationExpired", ORDER_ID, {
        **customer(ORDER_ID), "total": TOTAL, "reservedAt": "2026-11-24T09:30:00Z"}, 15)
    write("sqs-reservation-expired.json", sqs_batch("PaymentQueue", eventbridge(expired, 15)))

    # What each order the fixtures name holds, for `orderflow local fixtures load`.
    def held(order_id, lines, token):
        return {**customer(order_id), "lines": lines, "paymentToken": token}
    write("fixture-orders.json", {"orders": [
        held(ORDER_ID, LINES, "tok_visa"),
        held(DECLINED_ORDER_ID, LINES, "tok_declined"),
        held(GATEWAY_ERROR_ORDER_ID, LINES, "tok_gateway_error"),
        held(SECOND_ORDER_ID, LINES[1:], "tok_visa"),
    ]})


if __name__ == "__main__":
    main()
