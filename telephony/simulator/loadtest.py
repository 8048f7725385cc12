"""Measure how many simple requests per second a running simulator answers.

    python -m telephony.simulator.loadtest --url http://127.0.0.1:8900 --seconds 5 --clients 8

Each client is a thread with its own keep-alive connection sending `GET /v2/phone-numbers`
(Basic auth). Bounded in time and in requests; prints one JSON line with the result.
"""

import argparse
import base64
import json
import threading
import time

import httpx


def run(*, url: str, seconds: float, clients: int, max_requests: int) -> dict:
    auth = "Basic " + base64.b64encode(b"loadtest:loadtest-secret").decode()
    endpoint = url.rstrip("/") + "/api/conversational-ai-agent/v2/phone-numbers"
    counts = [0] * clients
    errors = [0] * clients
    deadline = time.monotonic() + seconds
    per_client = max(1, max_requests // clients)

    def worker(index: int) -> None:
        with httpx.Client(headers={"Authorization": auth}, timeout=10) as http:
            while time.monotonic() < deadline and counts[index] + errors[index] < per_client:
                try:
                    ok = http.get(endpoint).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    counts[index] += 1
                else:
                    errors[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {
        "requests": sum(counts),
        "errors": sum(errors),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(sum(counts) / elapsed, 1),
        "clients": clients,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8900")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=200_000)
    args = parser.parse_args()
    result = run(
        url=args.url, seconds=args.seconds, clients=args.clients, max_requests=args.max_requests
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
