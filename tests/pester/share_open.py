"""An independent reader of wrapping key share files (Split-TvmWrappingKey), for Shares.Tests.ps1.

It follows the share file format of src/shares.rs (ShareFile, binding(), seal_to_key, seal_to_password) from the
JSON alone, with Python's `cryptography` and its own GF(256) arithmetic; it never calls the module.

    share_open.py checksum FILE...
        One line per file: "ok <index> FILE" when its checksum is the SHA-256 (hex) of its binding text, else
        "bad <index> FILE". The binding text: every field but "checksum", the fields of "custodian" as
        "custodian.<name>", sorted bytewise by name, each as "name=value" and a line feed; numbers in decimal.
    share_open.py rebuild [--key PEM]... [--key-password PW] [--password PW]... [--original PEM] SHARE...
        Opens every share: in clear (protection None); CustodianKey with the --key whose public key's fingerprint
        (SHA-256 of the PKCS#1 DER, first 16 bytes, hex) is custodian.custodianFingerprint: RSA-OAEP (SHA-256,
        MGF1-SHA-256) of a 32-byte AES key, then RFC 5649 AES key unwrap of the share; Password with the first
        --password that opens it: PBKDF2-HMAC-SHA256 (custodian.iterations, custodian.salt) to a 32-byte key, then
        AES-256-CBC (custodian.iv) and PKCS#7 unpadding. Each share in clear must match shareSha256 and start with
        its index. Prints "opened <index> <protection>" per share, then rebuilds the secret by Lagrange
        interpolation at x = 0 over GF(256) (polynomial x^8 + x^4 + x^3 + x^2 + 1, 0x11d), loads it as a PKCS#8 DER
        RSA private key and prints "n=<hex>", "e=<decimal>", "der-sha256=<hex>" and, with --original (a private key
        PEM), "same-private=<True|False>". Exit code 3 when the rebuilt bytes are no private key ("load-failed"),
        2 when a share does not open or is damaged.
    share_open.py public [--password PW] PEM...
        One line per PEM (a public key, or a private key, encrypted with --password or not): "n=<hex> e=<decimal>
        PEM", read with `cryptography`; exit code 4 when a PEM cannot be read ("unreadable <error type> PEM").
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes, padding as sympadding, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding


def fail(code, text):
    print(text)
    sys.exit(code)


# GF(256) with the reduction polynomial 0x11d, computed bit by bit (no tables).
def gf_mul(a, b):
    result = 0
    while b:
        if b & 1:
            result ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11D
        b >>= 1
    return result


def gf_inv(a):
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in GF(256)")
    # a^254 = a^-1 (the multiplicative group has 255 elements)
    result, base, exponent = 1, a, 254
    while exponent:
        if exponent & 1:
            result = gf_mul(result, base)
        base = gf_mul(base, base)
        exponent >>= 1
    return result


def interpolate_at_zero(points):
    """points: list of (x, y bytes). Returns f(0) for every byte position."""
    xs = [x for x, _ in points]
    if len(set(xs)) != len(xs):
        raise ValueError("two shares have the same x")
    coefficients = []
    for i, xi in enumerate(xs):
        c = 1
        for j, xj in enumerate(xs):
            if j != i:
                # x_j / (x_j - x_i); subtraction is XOR in GF(2^8)
                c = gf_mul(c, gf_mul(xj, gf_inv(xj ^ xi)))
        coefficients.append(c)
    length = len(points[0][1])
    if any(len(y) != length for _, y in points):
        raise ValueError("the shares are not of one length")
    out = bytearray(length)
    for (_, y), c in zip(points, coefficients):
        for s in range(length):
            out[s] ^= gf_mul(c, y[s])
    return bytes(out)


def text_of(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def binding(doc):
    fields = {}
    for name, value in doc.items():
        if isinstance(value, dict):
            for inner, v in value.items():
                fields[name + "." + inner] = text_of(v)
        elif name != "checksum":
            fields[name] = text_of(value)
    names = sorted(fields, key=lambda n: n.encode("utf-8"))
    return "".join(n + "=" + fields[n] + "\n" for n in names)


def read(path):
    raw = open(path, "rb").read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return json.loads(raw.decode("utf-8"))


def checksum_ok(doc):
    return hashlib.sha256(binding(doc).encode("utf-8")).hexdigest() == doc.get("checksum")


def fingerprint(public_key):
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return hashlib.sha256(der).digest()[:16].hex()


def load_private(path, password):
    data = open(path, "rb").read()
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        return serialization.load_pem_private_key(data, password=password.encode("utf-8") if password else None)


def open_share(path, doc, keys, passwords):
    protection = doc["protection"]
    payload = base64.b64decode(doc["share"], validate=True)
    custodian = doc.get("custodian")
    if protection == "None":
        clear = payload
    elif protection == "CustodianKey":
        if custodian["algorithm"] != "RSA-OAEP-SHA256+AES-256-KWP":
            fail(2, "unknown algorithm %s in %s" % (custodian["algorithm"], path))
        wanted = custodian["custodianFingerprint"]
        key = next((k for k in keys if fingerprint(k.public_key()) == wanted), None)
        if key is None:
            fail(2, "no key for custodian %s of %s" % (wanted, path))
        kek = key.decrypt(
            base64.b64decode(custodian["encryptedKey"], validate=True),
            padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
        if len(kek) != 32:
            fail(2, "the encrypted key of %s is %d bytes" % (path, len(kek)))
        clear = aes_key_unwrap_with_padding(kek, payload)
    elif protection == "Password":
        if custodian["algorithm"] != "PBES2-PBKDF2-HMAC-SHA256+AES-256-CBC":
            fail(2, "unknown algorithm %s in %s" % (custodian["algorithm"], path))
        salt = base64.b64decode(custodian["salt"], validate=True)
        iv = base64.b64decode(custodian["iv"], validate=True)
        clear = None
        for pw in passwords:
            key = hashlib.pbkdf2_hmac("sha256", pw.encode("utf-8"), salt, int(custodian["iterations"]), 32)
            decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
            padded = decryptor.update(payload) + decryptor.finalize()
            try:
                unpadder = sympadding.PKCS7(128).unpadder()
                candidate = unpadder.update(padded) + unpadder.finalize()
            except ValueError:
                continue
            if hashlib.sha256(candidate).hexdigest() == doc["shareSha256"]:
                clear = candidate
                break
        if clear is None:
            fail(2, "no password opens %s" % path)
    else:
        fail(2, "unknown protection %s in %s" % (protection, path))
    if hashlib.sha256(clear).hexdigest() != doc["shareSha256"]:
        fail(2, "the share of %s does not match its shareSha256" % path)
    if clear[0] != doc["index"]:
        fail(2, "the share of %s does not start with its index" % path)
    return clear


def main(argv):
    if not argv:
        fail(1, __doc__)
    command, rest = argv[0], argv[1:]
    if command == "checksum":
        for path in rest:
            doc = read(path)
            print("%s %s %s" % ("ok" if checksum_ok(doc) else "bad", doc.get("index"), path))
        return
    if command == "public":
        password = None
        if rest[:1] == ["--password"]:
            password, rest = rest[1].encode("utf-8"), rest[2:]
        for path in rest:
            data = open(path, "rb").read()
            try:
                if b"PRIVATE KEY" in data:
                    key = serialization.load_pem_private_key(data, password=password).public_key()
                else:
                    key = serialization.load_pem_public_key(data)
            except (TypeError, ValueError) as e:
                fail(4, "unreadable %s %s" % (type(e).__name__, path))
            numbers = key.public_numbers()
            print("n=%x e=%d %s" % (numbers.n, numbers.e, path))
        return
    if command != "rebuild":
        fail(1, "unknown command " + command)
    key_paths, passwords, shares, original, key_password = [], [], [], None, None
    i = 0
    while i < len(rest):
        a = rest[i]
        if a in ("--key", "--password", "--original", "--key-password"):
            value = rest[i + 1]
            i += 2
            if a == "--key":
                key_paths.append(value)
            elif a == "--password":
                passwords.append(value)
            elif a == "--original":
                original = value
            else:
                key_password = value
        else:
            shares.append(a)
            i += 1
    keys = [load_private(p, key_password) for p in key_paths]
    points = []
    for path in shares:
        doc = read(path)
        if not checksum_ok(doc):
            fail(2, "the checksum of %s does not match" % path)
        clear = open_share(path, doc, keys, passwords)
        print("opened %d %s" % (doc["index"], doc["protection"]))
        points.append((clear[0], clear[1:]))
    secret = interpolate_at_zero(points)
    print("der-sha256=%s" % hashlib.sha256(secret).hexdigest())
    try:
        key = serialization.load_der_private_key(secret, password=None)
    except Exception as e:  # the bytes rebuilt are no key
        fail(3, "load-failed %s" % type(e).__name__)
    if not isinstance(key, rsa.RSAPrivateKey):
        fail(3, "load-failed not RSA")
    numbers = key.public_key().public_numbers()
    print("n=%x" % numbers.n)
    print("e=%d" % numbers.e)
    if original:
        theirs = serialization.load_pem_private_key(open(original, "rb").read(), password=None)
        print("same-private=%s" % (theirs.private_numbers() == key.private_numbers()))


if __name__ == "__main__":
    main(sys.argv[1:])
