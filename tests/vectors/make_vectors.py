#!/usr/bin/env python3
"""Write the known-answer fixtures in tests/vectors/ with an independent implementation.

The engine under test is Rust; these fixtures are made with Python's `cryptography`
package (and the standard library only), so a bug shared by our encoder and our decoder
cannot hide behind a round trip.  See tests/vectors/README.md for what each file holds.

Run from anywhere:  python3 tests/vectors/make_vectors.py

What is random and what is not
------------------------------
* RANDOM on every run (cryptography cannot seed these): the three RSA-2048 key pairs
  (wrapping, other, RSA target), the EC key, the salt/IV of the encrypted PKCS#8 file,
  and the OAEP seed inside every blob's first 256 bytes.
* DETERMINISTIC: the AES-256 key-encryption keys K and the AES targets (derived from
  SHA-256 of a fixed label per case, so they are recognisable and stable), the AES-KW(P)
  half of AES blobs (a pure function of K and the target), every file layout, name and
  encoding.
So regenerating changes most values: tests must read the fixtures, never hard-code them.
"""

import base64
import hashlib
import json
import re
import sys
from pathlib import Path

import cryptography
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap,
    aes_key_wrap_with_padding,
)

OUT = Path(__file__).resolve().parent
Enc = serialization.Encoding
PubFmt = serialization.PublicFormat
PrivFmt = serialization.PrivateFormat

# Mechanism names (REFERENCE 3.1/3.3) -> hash used for both OAEP and MGF1.
ENC_HASH = {
    "CKM_RSA_AES_KEY_WRAP": hashes.SHA1,
    "RSA_AES_KEY_WRAP_256": hashes.SHA256,
    "RSA_AES_KEY_WRAP_384": hashes.SHA384,
}
# The order a reader must try them in (REFERENCE 3.3).
ENC_ORDER = ["CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256", "RSA_AES_KEY_WRAP_384"]
KW_ORDER = ["rfc5649", "rfc3394"]

manifest_files = []  # every file written, with a one-line description (goes to manifest.json)
pem_inputs = []  # PEM inputs with their encoding properties (goes to manifest.json)


# --------------------------------------------------------------------------- helpers

def b64url(data: bytes) -> str:
    """base64url WITH '=' padding: the only form MOC accepts (REFERENCE 3.1)."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def derived(label: str) -> bytes:
    """A fixed 32-byte value for a label, so AES keys/targets do not change between runs."""
    return hashlib.sha256(("tvmbackup-vectors/v1/" + label).encode("ascii")).digest()


def write(name: str, data: bytes, what: str) -> None:
    (OUT / name).write_bytes(data)
    manifest_files.append({"file": name, "bytes": len(data), "what": what})


def dotnet_pem(label: str, der: bytes) -> str:
    """PEM exactly as .NET's PemEncoding.Write (ExportRSAPublicKeyPem, ExportPkcs8PrivateKeyPem)
    lays it out: 64-character base64 lines, LF line ends, NO newline after the END line."""
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])


def pem_of(key_pem_bytes: bytes, label: str, der: bytes) -> str:
    """Take cryptography's PEM (OpenSSL layout: trailing '\\n'), check it equals the .NET layout
    plus that newline, and return the .NET layout.  Two independent encoders must agree."""
    text = key_pem_bytes.decode("ascii")
    ours = dotnet_pem(label, der)
    assert text == ours + "\n", f"PEM layout mismatch for {label}"
    return ours


def import_body_from_pem_text(text: str) -> str:
    """Generate-ImportJsonFromPEM (REFERENCE section 2): Get-Content splits lines (LF or CRLF),
    lines matching -----BEGIN.*KEY----- / -----END.*KEY----- are dropped, the rest are joined with
    nothing in between, then '+' -> '-', '/' -> '_', '=' kept."""
    kept = [
        line for line in text.splitlines()
        if not re.search(r"-----BEGIN.*KEY-----", line) and not re.search(r"-----END.*KEY-----", line)
    ]
    return "".join(kept).replace("+", "-").replace("/", "_")


def import_file(pub_body: str, priv_body: str) -> bytes:
    """The NO_KEY_WRAP import file of REFERENCE 3.2: exact text, ASCII, one trailing LF."""
    text = (
        '{"public-key":"' + pub_body + '","private-key":"' + priv_body + '",'
        '"private-key-wrapping-info":{"key-name":"","public-key":"","enc":"NO_KEY_WRAP"}}\n'
    )
    return text.encode("ascii")


def decode_pem_file(data: bytes) -> str:
    """Decode a PEM file the way PowerShell's Get-Content would: honour a BOM."""
    if data.startswith(b"\xff\xfe"):
        return data[2:].decode("utf-16-le")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    return data.decode("utf-8")


def oaep(enc: str) -> padding.OAEP:
    h = ENC_HASH[enc]
    return padding.OAEP(mgf=padding.MGF1(algorithm=h()), algorithm=h(), label=None)


def wrap(public_key, enc: str, kw: str, kek: bytes, target: bytes) -> bytes:
    """blob = RSA-OAEP(wrapping public key, K) || AES-KW(P)(K, target)   (REFERENCE 3.3)."""
    head = public_key.encrypt(kek, oaep(enc))
    assert len(head) == public_key.key_size // 8, "OAEP part must be modulus-length"
    tail = aes_key_wrap_with_padding(kek, target) if kw == "rfc5649" else aes_key_wrap(kek, target)
    return head + tail


def unwrap_any(private_key, blob: bytes):
    """A reader as REFERENCE 3.3 asks: SHA-1, SHA-256, SHA-384; RFC 5649 before RFC 3394.
    Returns (enc, kw, kek, target) or raises ValueError.  Used only for the self-check."""
    n = private_key.key_size // 8
    if len(blob) <= n:
        raise ValueError("blob shorter than the OAEP part")
    head, tail = blob[:n], blob[n:]
    for enc in ENC_ORDER:
        try:
            kek = private_key.decrypt(head, oaep(enc))
        except ValueError:
            continue
        if len(kek) != 32:
            continue
        for kw in KW_ORDER:
            try:
                fn = aes_key_unwrap_with_padding if kw == "rfc5649" else aes_key_unwrap
                return enc, kw, kek, fn(kek, tail)
            except (InvalidUnwrap, ValueError):
                continue
    raise ValueError("no mechanism matched")


def der_public_pkcs1(key) -> bytes:
    return key.public_key().public_bytes(Enc.DER, PubFmt.PKCS1)


def der_private_pkcs8(key) -> bytes:
    return key.private_bytes(Enc.DER, PrivFmt.PKCS8, serialization.NoEncryption())


def new_rsa_2048():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def record_pem_input(file, key, form, der, encoding="utf-8", line_end="lf", trailing="", must_refuse=False, note=""):
    pem_inputs.append({
        "file": file,
        "key": key,                   # which key pair: wrapping / other / ec
        "form": form,                 # what the PEM body is
        "der_sha256": hashlib.sha256(der).hexdigest() if der is not None else None,
        "encoding": encoding,         # utf-8 | utf-8-bom | utf-16le-bom
        "line_end": line_end,         # between lines: lf | crlf
        "trailing": trailing,         # after the END line: "" | "\n" | "\r\n"
        "must_refuse": must_refuse,
        "note": note,
    })


# --------------------------------------------------------------------------- 1. wrapping key pair

wrapping = new_rsa_2048()
w_pub_der = der_public_pkcs1(wrapping)
w_priv_der = der_private_pkcs8(wrapping)
w_spki_der = wrapping.public_key().public_bytes(Enc.DER, PubFmt.SubjectPublicKeyInfo)
w_priv1_der = wrapping.private_bytes(Enc.DER, PrivFmt.TraditionalOpenSSL, serialization.NoEncryption())

pub_pem = pem_of(wrapping.public_key().public_bytes(Enc.PEM, PubFmt.PKCS1), "RSA PUBLIC KEY", w_pub_der)
priv_pem = pem_of(
    wrapping.private_bytes(Enc.PEM, PrivFmt.PKCS8, serialization.NoEncryption()), "PRIVATE KEY", w_priv_der)
spki_pem = pem_of(wrapping.public_key().public_bytes(Enc.PEM, PubFmt.SubjectPublicKeyInfo), "PUBLIC KEY", w_spki_der)
priv1_pem = pem_of(
    wrapping.private_bytes(Enc.PEM, PrivFmt.TraditionalOpenSSL, serialization.NoEncryption()),
    "RSA PRIVATE KEY", w_priv1_der)

write("wrapping_public_pkcs1.pem", pub_pem.encode("ascii"),
      "wrapping public key, PKCS#1 RSA PUBLIC KEY, as .NET ExportRSAPublicKeyPem writes (LF, no trailing newline)")
write("wrapping_private_pkcs8.pem", priv_pem.encode("ascii"),
      "wrapping private key, PKCS#8 PRIVATE KEY, as .NET ExportPkcs8PrivateKeyPem writes (LF, no trailing newline)")
write("wrapping_public_spki.pem", spki_pem.encode("ascii"),
      "same wrapping public key as SubjectPublicKeyInfo (BEGIN PUBLIC KEY)")
write("wrapping_private_pkcs1.pem", priv1_pem.encode("ascii"),
      "same wrapping private key as PKCS#1 (BEGIN RSA PRIVATE KEY)")
record_pem_input("wrapping_public_pkcs1.pem", "wrapping", "pkcs1_public", w_pub_der)
record_pem_input("wrapping_private_pkcs8.pem", "wrapping", "pkcs8_private", w_priv_der)
record_pem_input("wrapping_public_spki.pem", "wrapping", "spki_public", w_spki_der)
record_pem_input("wrapping_private_pkcs1.pem", "wrapping", "pkcs1_private", w_priv1_der)

# --------------------------------------------------------------------------- 2. encoding variants
# Each variant changes ONE property of the .NET layout, except utf16le, which is the whole of what
# Windows PowerShell 5.1 `$pem | Out-File` writes: UTF-16LE with BOM, the string's own LF line ends
# kept, and Out-File's "\r\n" appended.  All of them hold the same DER as the base file.

VARIANTS = [
    # suffix, encoding, line_end, trailing, description
    ("utf8bom", "utf-8-bom", "lf", "", "UTF-8 with BOM (EF BB BF), LF, no trailing newline"),
    ("utf16le", "utf-16le-bom", "lf", "\r\n",
     "UTF-16LE with BOM (FF FE), LF inside, trailing CRLF: Windows PowerShell 5.1 Out-File"),
    ("crlf", "utf-8", "crlf", "\r\n", "UTF-8, every line ended by CRLF including the END line (Notepad/Set-Content)"),
    ("trailing_crlf", "utf-8", "lf", "\r\n", "UTF-8, LF inside, trailing CRLF: PowerShell 7 Out-File on Windows"),
    ("trailing_lf", "utf-8", "lf", "\n", "UTF-8, LF inside, trailing LF: OpenSSL / Python / PowerShell 7 on Linux"),
]


def encode_variant(pem: str, encoding: str, line_end: str, trailing: str) -> bytes:
    text = pem.replace("\n", "\r\n") if line_end == "crlf" else pem
    text += trailing
    if encoding == "utf-8":
        return text.encode("utf-8")
    if encoding == "utf-8-bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    if encoding == "utf-16le-bom":
        return b"\xff\xfe" + text.encode("utf-16-le")
    raise AssertionError(encoding)


variant_files = []  # (file name, kind) for the import-file cross-check below
for kind, pem, form, der in (("public", pub_pem, "pkcs1_public", w_pub_der),
                             ("private", priv_pem, "pkcs8_private", w_priv_der)):
    for suffix, encoding, line_end, trailing, what in VARIANTS:
        name = f"{kind}_{suffix}.pem"
        data = encode_variant(pem, encoding, line_end, trailing)
        write(name, data, f"wrapping {kind} key ({form}), {what}")
        record_pem_input(name, "wrapping", form, der, encoding, line_end, trailing)
        variant_files.append((name, kind))
        # The variant must still be a loadable PEM of the same key once decoded.
        text = decode_pem_file(data)
        if kind == "public":
            assert serialization.load_pem_public_key(text.encode("ascii")).public_bytes(Enc.DER, PubFmt.PKCS1) == der
        else:
            assert der_private_pkcs8(serialization.load_pem_private_key(text.encode("ascii"), None)) == der

# --------------------------------------------------------------------------- 3. a different key pair

other = new_rsa_2048()
assert other.public_key().public_numbers().n != wrapping.public_key().public_numbers().n
o_pub_der, o_priv_der = der_public_pkcs1(other), der_private_pkcs8(other)
write("other_public_pkcs1.pem",
      pem_of(other.public_key().public_bytes(Enc.PEM, PubFmt.PKCS1), "RSA PUBLIC KEY", o_pub_der).encode("ascii"),
      "a second, unrelated RSA-2048 public key (PKCS#1): must not match wrapping_private_pkcs8.pem")
write("other_private_pkcs8.pem",
      pem_of(other.private_bytes(Enc.PEM, PrivFmt.PKCS8, serialization.NoEncryption()),
             "PRIVATE KEY", o_priv_der).encode("ascii"),
      "the second key's private key (PKCS#8): must not match wrapping_public_pkcs1.pem")
record_pem_input("other_public_pkcs1.pem", "other", "pkcs1_public", o_pub_der)
record_pem_input("other_private_pkcs8.pem", "other", "pkcs8_private", o_priv_der)

# --------------------------------------------------------------------------- 4. inputs to refuse

enc_pem = wrapping.private_bytes(Enc.PEM, PrivFmt.PKCS8, serialization.BestAvailableEncryption(b"test"))
enc_text = enc_pem.decode("ascii").rstrip("\n")
assert enc_text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
# Self-check: it is the wrapping key, encrypted with the password "test".
assert der_private_pkcs8(serialization.load_pem_private_key(enc_pem, b"test")) == w_priv_der
write("encrypted_private_pkcs8.pem", enc_text.encode("ascii"),
      "the wrapping private key as ENCRYPTED PRIVATE KEY (PBES2, password \"test\"): must be refused")
record_pem_input("encrypted_private_pkcs8.pem", "wrapping", "pkcs8_encrypted", None, must_refuse=True,
                 note="password \"test\"; decrypts to wrapping_private_pkcs8.pem's DER")

ec_key = ec.generate_private_key(ec.SECP256R1())
ec_sec1_der = ec_key.private_bytes(Enc.DER, PrivFmt.TraditionalOpenSSL, serialization.NoEncryption())
ec_pk8_der = ec_key.private_bytes(Enc.DER, PrivFmt.PKCS8, serialization.NoEncryption())
write("ec_private_sec1.pem",
      pem_of(ec_key.private_bytes(Enc.PEM, PrivFmt.TraditionalOpenSSL, serialization.NoEncryption()),
             "EC PRIVATE KEY", ec_sec1_der).encode("ascii"),
      "a P-256 EC private key, SEC1 (BEGIN EC PRIVATE KEY): must be refused")
write("ec_private_pkcs8.pem",
      pem_of(ec_key.private_bytes(Enc.PEM, PrivFmt.PKCS8, serialization.NoEncryption()),
             "PRIVATE KEY", ec_pk8_der).encode("ascii"),
      "the same EC key as PKCS#8 (BEGIN PRIVATE KEY, id-ecPublicKey): must be refused despite the RSA-like label")
record_pem_input("ec_private_sec1.pem", "ec", "sec1_ec_private", ec_sec1_der, must_refuse=True)
record_pem_input("ec_private_pkcs8.pem", "ec", "pkcs8_ec_private", ec_pk8_der, must_refuse=True,
                 note="label is PRIVATE KEY; the algorithm OID inside is EC")

# --------------------------------------------------------------------------- 5. NO_KEY_WRAP import file

# Way 1: the PowerShell text transformation on the PEM files.
from_pem = import_file(import_body_from_pem_text(pub_pem), import_body_from_pem_text(priv_pem))
# Way 2: straight from the DER, base64url with padding.
from_der = import_file(b64url(w_pub_der), b64url(w_priv_der))
assert from_pem == from_der, "PEM-body route and DER route disagree"
# Way 3: through a JSON serialiser, to make sure the hand-written text is the compact JSON it claims.
via_json = (json.dumps({
    "public-key": b64url(w_pub_der), "private-key": b64url(w_priv_der),
    "private-key-wrapping-info": {"key-name": "", "public-key": "", "enc": "NO_KEY_WRAP"},
}, separators=(",", ":")) + "\n").encode("ascii")
assert from_der == via_json
# Every encoding variant must give the very same bytes (the CRLF ones catch a stray '\r').
for name, kind in variant_files:
    body = import_body_from_pem_text(decode_pem_file((OUT / name).read_bytes()))
    assert body == (b64url(w_pub_der) if kind == "public" else b64url(w_priv_der)), name
assert from_der.count(b"\n") == 1 and from_der.endswith(b"}\n")
write("import_expected.json", from_der,
      "exact NO_KEY_WRAP import file for wrapping_public_pkcs1.pem + wrapping_private_pkcs8.pem (and every variant)")

# --------------------------------------------------------------------------- 6. key-wrap vectors

w_public = wrapping.public_key()
rsa_target = new_rsa_2048()  # the RSA key "being backed up" in the RSA case
rsa_target_der = der_private_pkcs8(rsa_target)

# name, enc, kw, target_type, target bytes
CASES = [
    ("aes256_ckm_rsa_aes_key_wrap", "CKM_RSA_AES_KEY_WRAP", "rfc5649", "AES", derived("aes256_ckm/target")),
    ("aes256_rsa_aes_key_wrap_256", "RSA_AES_KEY_WRAP_256", "rfc5649", "AES", derived("aes256_256/target")),
    ("aes256_rsa_aes_key_wrap_384", "RSA_AES_KEY_WRAP_384", "rfc5649", "AES", derived("aes256_384/target")),
    ("rsa2048_ckm_rsa_aes_key_wrap", "CKM_RSA_AES_KEY_WRAP", "rfc5649", "RSA", rsa_target_der),
    ("aes256_ckm_rsa_aes_key_wrap_rfc3394", "CKM_RSA_AES_KEY_WRAP", "rfc3394", "AES", derived("aes256_3394/target")),
]

vectors = []
blobs = {}
for name, enc, kw, ttype, target in CASES:
    kek = derived(name + "/kek")  # K: a fixed AES-256 key per case
    if kw == "rfc3394":
        assert len(target) % 8 == 0, "RFC 3394 needs a multiple of 8 bytes"
    blob = wrap(w_public, enc, kw, kek, target)
    blobs[name] = blob
    vectors.append({
        "name": name, "expect": "ok", "enc": enc, "kw": kw, "target_type": ttype,
        "target_hex": target.hex(), "kek_hex": kek.hex(), "blob_b64url": b64url(blob),
        "description": f"{ttype} target wrapped with {enc} ({kw})",
    })

# REFERENCE 3.3: AES-256 target, 2048-bit wrapping key -> 256 + 40 = 296 bytes, 396 base64url chars.
for v in vectors:
    if v["target_type"] == "AES":
        assert len(blobs[v["name"]]) == 296 and len(v["blob_b64url"]) == 396, v["name"]

# Negative cases, both made from the first AES case (so enc/kw/kek/target say what it would have been).
src = vectors[0]
src_blob = blobs[src["name"]]
flip_at = 256 + 10  # inside the AES-KWP part, past the OAEP part
flipped = bytearray(src_blob)
flipped[flip_at] ^= 0x01
negatives = [
    ("aes256_kwp_byte_flipped", bytes(flipped),
     f"{src['name']} with byte {flip_at} (in the AES-KWP part) XOR 0x01: OAEP succeeds, the key unwrap must fail"),
    ("aes256_truncated_by_one", src_blob[:-1],
     f"{src['name']} without its last byte (295 bytes): the AES part is 39 bytes, not a multiple of 8"),
]
for name, blob, what in negatives:
    vectors.append({
        "name": name, "expect": "error", "enc": src["enc"], "kw": src["kw"], "target_type": src["target_type"],
        "target_hex": src["target_hex"], "kek_hex": src["kek_hex"], "blob_b64url": b64url(blob),
        "description": what,
    })

# Self-check with the private key: each good blob decodes back, and the try-order reader
# reports the mechanism the case claims; each bad blob fails with every mechanism.
for v in vectors:
    blob = base64.urlsafe_b64decode(v["blob_b64url"])
    if v["expect"] == "ok":
        # Direct decryption with the stated mechanism.
        kek = wrapping.decrypt(blob[:256], oaep(v["enc"]))
        assert kek.hex() == v["kek_hex"]
        fn = aes_key_unwrap_with_padding if v["kw"] == "rfc5649" else aes_key_unwrap
        assert fn(kek, blob[256:]).hex() == v["target_hex"]
        # And through the reader's try-order.
        enc, kw, kek2, target = unwrap_any(wrapping, blob)
        assert (enc, kw, kek2.hex(), target.hex()) == (v["enc"], v["kw"], v["kek_hex"], v["target_hex"]), v["name"]
        # The other key must not open it.
        try:
            unwrap_any(other, blob)
            raise AssertionError("other key opened " + v["name"])
        except ValueError:
            pass
    else:
        try:
            unwrap_any(wrapping, blob)
            raise AssertionError("negative case decoded: " + v["name"])
        except ValueError:
            pass
# The RSA target's PKCS#8 DER loads back to the same key.
assert serialization.load_der_private_key(rsa_target_der, None).private_numbers() == rsa_target.private_numbers()

write("keywrap_vectors.json", (json.dumps(vectors, indent=2) + "\n").encode("ascii"),
      "key-wrap known answers: 5 good cases (3 AES mechanisms, 1 RSA target, 1 RFC 3394) + 2 that must fail")

# --------------------------------------------------------------------------- 7. export file examples


def export_file(public_key_b64: str, blob: bytes, enc: str) -> bytes:
    """REFERENCE 3.1: compact JSON, this key order, no BOM, no trailing newline."""
    doc = {
        "public-key": public_key_b64,
        "private-key": b64url(blob),
        "private-key-wrapping-info": {"key-name": "", "public-key": b64url(w_pub_der), "enc": enc},
    }
    data = json.dumps(doc, separators=(",", ":")).encode("ascii")
    assert not data.endswith(b"\n") and not data.startswith(b"\xef\xbb\xbf")
    # Key order check by re-reading as pairs.
    pairs = json.loads(data, object_pairs_hook=lambda p: p)
    assert [k for k, _ in pairs] == ["public-key", "private-key", "private-key-wrapping-info"]
    assert [k for k, _ in pairs[2][1]] == ["key-name", "public-key", "enc"]
    return data


write("export_aes_example.json",
      export_file("", blobs["aes256_ckm_rsa_aes_key_wrap"], "CKM_RSA_AES_KEY_WRAP"),
      "export file for an AES-256 key; private-key = blob of case aes256_ckm_rsa_aes_key_wrap")
write("export_rsa_example.json",
      export_file(b64url(der_public_pkcs1(rsa_target)), blobs["rsa2048_ckm_rsa_aes_key_wrap"], "CKM_RSA_AES_KEY_WRAP"),
      "export file for an RSA-2048 key; private-key = blob of case rsa2048_ckm_rsa_aes_key_wrap")

# --------------------------------------------------------------------------- manifest

manifest_files.append({"file": "manifest.json", "bytes": None, "what": "this list"})
manifest = {
    "generator": "tests/vectors/make_vectors.py",
    "python": sys.version.split()[0],
    "cryptography": cryptography.__version__,
    "wrapping_key": {
        "public_pkcs1_der_sha256": hashlib.sha256(w_pub_der).hexdigest(),
        "private_pkcs8_der_sha256": hashlib.sha256(w_priv_der).hexdigest(),
        "modulus_bytes": 256,
    },
    "pem_inputs": pem_inputs,
    "files": manifest_files,
}
(OUT / "manifest.json").write_bytes((json.dumps(manifest, indent=2) + "\n").encode("ascii"))

for f in manifest_files:
    print(f"{f['file']:40} {f['what']}")
print(f"cryptography {cryptography.__version__}: all self-checks passed")
