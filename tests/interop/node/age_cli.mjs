// A tiny command line over the age authors' TypeScript implementation (npm
// `age-encryption`), so Tessera's tests can check its files against an independent
// implementation. stdin -> stdout; keys as arguments or in a file.
//   node age_cli.mjs keygen                 -> identity line, then recipient line
//   node age_cli.mjs encrypt RECIPIENT      -> binary age file
//   node age_cli.mjs decrypt IDENTITY_FILE  -> plaintext
import { readFileSync } from "node:fs";
import { Decrypter, Encrypter, generateHybridIdentity, identityToRecipient } from "age-encryption";

const input = () => new Uint8Array(readFileSync(0));
const [command, argument] = process.argv.slice(2);

if (command === "keygen") {
  const identity = await generateHybridIdentity();
  process.stdout.write(`${identity}\n${await identityToRecipient(identity)}\n`);
} else if (command === "encrypt") {
  const e = new Encrypter();
  e.addRecipient(argument);
  process.stdout.write(await e.encrypt(input()));
} else if (command === "decrypt") {
  const d = new Decrypter();
  for (const line of readFileSync(argument, "utf8").split("\n")) {
    if (line.trim() && !line.startsWith("#")) d.addIdentity(line.trim());
  }
  process.stdout.write(await d.decrypt(input()));
} else {
  process.stderr.write("usage: age_cli.mjs keygen | encrypt RECIPIENT | decrypt IDENTITY_FILE\n");
  process.exit(2);
}
