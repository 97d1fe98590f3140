# A function for the async tests: it reports every delivery to the
# collector at COLLECT_URL, then does what the event asks.
import json
import os
import time
import urllib.request


def handler(event, context):
    body = json.dumps({
        "requestId": context.aws_request_id,
        "function": context.function_name,
        "event": event,
    }).encode()
    req = urllib.request.Request(os.environ["COLLECT_URL"], data=body,
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    if isinstance(event, dict):
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("fail"):
            raise RuntimeError("asked to fail")
    return {"ok": True, "echo": event}
