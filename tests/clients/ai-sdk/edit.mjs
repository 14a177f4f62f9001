// One image edit through the Vercel AI SDK's Black Forest Labs provider, unchanged:
// submit, poll and download all happen inside the provider, against the URL given.
//
//   node edit.mjs --base-url http://127.0.0.1:PORT --image in.png --output out.png
//       [--api-key KEY] [--model flux-kontext-pro] [--prompt TEXT]
//       [--poll-interval-ms N] [--poll-timeout-ms N]
//
// --base-url is the server's origin, as bfl-mock prints it; the provider's baseURL is
// that plus /v1, as its default is https://api.bfl.ai/v1. The key falls back to
// BFL_API_KEY and the base URL to BFL_BASE_URL. On success it writes the image and
// prints one JSON object on stdout; on failure it prints the error's name and message
// as JSON on stderr and exits 1.
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";

import { createBlackForestLabs } from "@ai-sdk/black-forest-labs";
import { generateImage } from "ai";

const { values: args } = parseArgs({
  options: {
    "base-url": { type: "string", default: process.env.BFL_BASE_URL },
    "api-key": { type: "string", default: process.env.BFL_API_KEY },
    model: { type: "string", default: "flux-kontext-pro" },
    image: { type: "string" },
    output: { type: "string" },
    prompt: { type: "string", default: "make it a watercolour" },
    "poll-interval-ms": { type: "string" },
    "poll-timeout-ms": { type: "string" },
  },
});
for (const name of ["base-url", "api-key", "image", "output"]) {
  if (!args[name]) {
    console.error(`edit.mjs: --${name} is required`);
    process.exit(2);
  }
}

const provider = createBlackForestLabs({
  baseURL: `${args["base-url"].replace(/\/+$/, "")}/v1`,
  apiKey: args["api-key"],
});
// The provider's own poll options; left unset, its defaults (500 ms, 60 s) apply.
const polling = {};
if (args["poll-interval-ms"]) polling.pollIntervalMillis = Number(args["poll-interval-ms"]);
if (args["poll-timeout-ms"]) polling.pollTimeoutMillis = Number(args["poll-timeout-ms"]);

try {
  // The documented way to pass an input image (the `inputImage` provider option is
  // deprecated): the SDK turns the bytes into the provider's `files`, which the
  // provider sends as bare base64 in `input_image`.
  const input = await readFile(args.image);
  const result = await generateImage({
    model: provider.image(args.model),
    prompt: { text: args.prompt, images: [input] },
    providerOptions: { blackForestLabs: polling },
  });
  const [image] = result.images;
  await writeFile(args.output, image.uint8Array);
  console.log(
    JSON.stringify({
      bytes: image.uint8Array.byteLength,
      mediaType: image.mediaType,
      providerMetadata: result.providerMetadata,
      warnings: result.warnings,
      modelId: result.responses[0].modelId,
    }),
  );
} catch (error) {
  console.error(JSON.stringify({ name: error?.name, message: error?.message }));
  process.exit(1);
}
