"""A small BFL client, correct and with one flaw at a time, for the client checks to catch.

As a function: ``generate(base_url, api_key, flaw=None)`` submits, follows the task to
its end and downloads a Ready image. As a command (what ``bfl-mock check-client``
runs): ``python broken_clients.py [FLAW]`` reads ``BFL_API_URL`` and ``BFL_API_KEY``.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any

import httpx
from PIL import Image

SUBMIT = "/v1/flux-pro-1.1"
FINAL = {"Ready", "Error", "Request Moderated", "Content Moderated"}
MAX_POLLS = 20


class GenerationFailed(Exception):
    """The task ended without an image (Error or moderated): a client's expected outcome."""


def generate(base_url: str, api_key: str, flaw: str | None = None) -> tuple[int, int]:
    """Generate one 768x512 image; return its size."""
    headers = {} if flaw == "omits_x_key" else {"x-key": api_key}
    body: dict[str, Any] = {"prompt": "a red fox in snow", "width": 768, "height": 512}
    if flaw == "sends_width_1000":
        body["width"] = 1000
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http:
        submitted = http.post(SUBMIT, json=body).raise_for_status().json()
        if flaw == "crashes_on_null_cost":
            if "cost" in submitted:  # the flaw: cost may be there and null
                print(f"charged {submitted['cost']:.1f} credits")
        elif submitted.get("cost") is not None:
            print(f"charged {submitted['cost']} credits")
        if flaw == "ignores_polling_url":
            url = f"{base_url}/v1/get_result?id={submitted['id']}"
        else:
            url = submitted["polling_url"]
        for _ in range(MAX_POLLS):
            task = http.get(url).raise_for_status().json()
            if task["status"] in FINAL:
                break
        else:
            raise GenerationFailed(f"still {task['status']} after {MAX_POLLS} polls")
        if task["status"] != "Ready":
            raise GenerationFailed(f"{task['status']}: {task.get('details')}")
        sample = http.get(task["result"]["sample"]).raise_for_status()
        return Image.open(io.BytesIO(sample.content)).size


def main(argv: list[str]) -> int:
    flaw = argv[0] if argv else None
    size = generate(os.environ["BFL_API_URL"], os.environ["BFL_API_KEY"], flaw)
    print(f"got a {size[0]}x{size[1]} image")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
