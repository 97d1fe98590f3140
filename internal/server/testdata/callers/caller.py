"""Calls Gust from inside a function with boto3 and the role's session
credentials from the environment. Debian's boto3 predates the
AWS_ENDPOINT_URL_<SERVICE> variables, so the endpoint is passed on."""
import json
import os

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def handler(event, context):
    client = boto3.client(
        "lambda",
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL_LAMBDA"),
        config=Config(retries={"max_attempts": 1}),
    )
    try:
        out = client.invoke(FunctionName=event["function"], Payload=json.dumps({"from": "python"}))
    except ClientError as e:
        return {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}
    return {"payload": out["Payload"].read().decode()}
