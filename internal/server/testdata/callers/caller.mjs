// Calls Gust from inside a function with the role's session credentials
// from the environment, signing the Invoke request with SigV4 by hand
// (the Node.js runtime here has no AWS SDK bundled).
import { createHash, createHmac } from "node:crypto";

const hash = (s) => createHash("sha256").update(s).digest("hex");
const hmac = (k, s) => createHmac("sha256", k).update(s).digest();

export const handler = async (event) => {
  const endpoint = new URL(process.env.AWS_ENDPOINT_URL_LAMBDA);
  const region = process.env.AWS_REGION;
  const path = `/2015-03-31/functions/${encodeURIComponent(event.function)}/invocations`;
  const body = JSON.stringify({ from: "node" });
  const amzDate = new Date().toISOString().replace(/[:-]|\.\d{3}/g, "");
  const date = amzDate.slice(0, 8);
  const headers = {
    host: endpoint.host,
    "x-amz-date": amzDate,
    "x-amz-security-token": process.env.AWS_SESSION_TOKEN,
  };
  const names = Object.keys(headers).sort();
  const canonical = ["POST", path, "", ...names.map((n) => `${n}:${headers[n]}`), "", names.join(";"), hash(body)].join("\n");
  const scope = `${date}/${region}/lambda/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, hash(canonical)].join("\n");
  let key = hmac("AWS4" + process.env.AWS_SECRET_ACCESS_KEY, date);
  for (const part of [region, "lambda", "aws4_request"]) key = hmac(key, part);
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  const res = await fetch(new URL(path, endpoint), {
    method: "POST",
    body,
    headers: {
      ...headers,
      authorization: `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
    },
  });
  const text = await res.text();
  if (res.ok) return { payload: text };
  const err = JSON.parse(text);
  return { code: res.headers.get("x-amzn-errortype"), message: err.Message ?? err.message };
};
