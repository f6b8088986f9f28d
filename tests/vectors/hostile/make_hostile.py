"""Key fixtures of the hostile-input corpus (tests/hostile.rs) that the corpus cannot make itself quickly or at all:
keys of sizes and algorithms the module must refuse, and a certificate. Made with Python's `cryptography`; run
`python3 tests/vectors/hostile/make_hostile.py` to remake them (new random keys each time; the tests read them and
copy nothing out of them)."""
import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
from cryptography.x509.oid import NameOID

here = Path(__file__).resolve().parent
PEM = serialization.Encoding.PEM


def write(name, data):
    (here / name).write_bytes(data)


def public(key, fmt=serialization.PublicFormat.SubjectPublicKeyInfo):
    return key.public_key().public_bytes(PEM, fmt)


def private(key, fmt=serialization.PrivateFormat.PKCS8):
    return key.private_bytes(PEM, fmt, serialization.NoEncryption())


for bits in (1024, 8192):
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    write(f"rsa{bits}_public_pkcs1.pem", public(k, serialization.PublicFormat.PKCS1))
    write(f"rsa{bits}_private_pkcs8.pem", private(k))

d = dsa.generate_private_key(key_size=2048)
write("dsa_public.pem", public(d))
write("dsa_private_pkcs8.pem", private(d))

k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tvm hostile-input fixture")])
now = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
cert = (
    x509.CertificateBuilder()
    .subject_name(name)
    .issuer_name(name)
    .public_key(k.public_key())
    .serial_number(1)
    .not_valid_before(now)
    .not_valid_after(now + datetime.timedelta(days=3650))
    .sign(k, hashes.SHA256())
)
write("certificate.pem", cert.public_bytes(PEM))
print("written:", sorted(p.name for p in here.glob("*.pem")))
