"""A Store's shop-database settings as fields, and the shop identity that hub state is keyed by.

DESIGN.md (2026-12-06): the database is host, port, user, password, database, charset — no URL options (a
query option such as `local_infile=1` or `read_default_file=…` reaches the MySQL driver and lets a hostile
server read hub files). Identity is (host, port, database, prefix): two Stores on one shop database share
its poll positions and phone index; the same identity and store_id twice is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import NamedTuple

from ocbridge.core.errors import ConfigurationError

MYSQL, SQLITE = "mysql", "sqlite"
ENGINES = (MYSQL, SQLITE)  # SQLite: the demo shop and tests, set from the command line only
DEFAULT_PORT = 3306
DEFAULT_CHARSET = "utf8mb4"
# A CA certificate (or a short chain of them) pasted by the owner: a few kB each; more is a mistake, not a CA.
CA_PEM_MAX = 32 * 1024
# utf8mb4 carries any text (opencart.md §5.5); the others are for old servers that lack it.
CHARSETS = ("utf8mb4", "utf8mb3", "utf8", "latin1", "latin5", "cp1251")


class ShopIdentity(NamedTuple):
    """Which shop tables a Store reads: the same four values mean the same orders."""

    host: str
    port: int
    database: str
    prefix: str

    @property
    def key(self) -> str:
        """Short stable key of the identity, the column value in hub tables (PollState, PhoneIndex…)."""
        if not self.database:
            return ""
        text = f"{self.host}|{self.port}|{self.database}|{self.prefix}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ShopDatabase:
    """Everything needed to open a shop database. Hashable: the process keeps one engine per value."""

    engine: str = MYSQL
    host: str = ""
    port: int = DEFAULT_PORT
    user: str = ""
    password: str = ""
    database: str = ""
    charset: str = DEFAULT_CHARSET
    # TLS verified as `mysql --ssl-verify-server-cert` does: required, the certificate checked against the system's
    # CAs (or `tls_ca`, PEM, for a private CA) and the host name. Off: PyMySQL's "preferred" mode (encrypted when
    # the server offers it, the certificate not checked). Not part of the identity: the same shop either way.
    tls_verify: bool = False
    tls_ca: str = ""
    tls_required: bool = False  # TLS or no connection, the certificate not checked (tls_verify: checked too)

    def __repr__(self) -> str:  # never print the password
        return f"ShopDatabase({self.display()})"

    def display(self) -> str:
        """Where it points, for people and logs (no password)."""
        if self.engine == SQLITE:
            return f"sqlite:{self.database}"
        return f"{self.user}@{self.host}:{self.port}/{self.database}"

    def identity(self, prefix: str) -> ShopIdentity:
        if self.engine == SQLITE:
            return ShopIdentity("", 0, self.database, prefix or "")
        return ShopIdentity(self.host.strip().lower().rstrip("."), int(self.port or DEFAULT_PORT),
                            self.database, prefix or "")

    def validate(self) -> None:
        """Refuse values the driver must never see; the message says which field and why."""
        if self.engine not in ENGINES:
            raise ConfigurationError(f"Shop database must be MySQL/MariaDB (or SQLite for the demo), got {self.engine!r}.")
        if not self.database:
            raise ConfigurationError("The shop database name is missing.")
        if self.engine == MYSQL:
            if not self.host:
                raise ConfigurationError("The shop database host is missing.")
            if any(c in self.host for c in "/?#@ \t\r\n"):
                raise ConfigurationError(f"The shop database host {self.host!r} is not a host name or address.")
            if not 0 < int(self.port) < 65536:
                raise ConfigurationError(f"The shop database port {self.port} is not between 1 and 65535.")
            if self.charset not in CHARSETS:
                raise ConfigurationError(f"Unknown character set {self.charset!r}; use one of {', '.join(CHARSETS)}.")
            if self.tls_ca:
                if not self.tls_verify:
                    raise ConfigurationError("A CA certificate is only used when the server's certificate is verified.")
                check_ca_pem(self.tls_ca)

    def sqlalchemy_url(self):
        """The driver URL built from the fields alone: no query option can reach the driver."""
        from sqlalchemy.engine import URL

        self.validate()
        if self.engine == SQLITE:
            return URL.create("sqlite", database=self.database)
        return URL.create("mysql+pymysql", username=self.user or None, password=self.password or None,
                          host=self.host, port=int(self.port), database=self.database,
                          query={"charset": self.charset})

    @classmethod
    def from_url(cls, url: str) -> ShopDatabase:
        """Split a database URL into the fields; a URL with query options is refused, naming them."""
        from sqlalchemy.engine import make_url

        try:
            parsed = make_url(url.strip())
        except Exception:
            raise ConfigurationError("This is not a database URL. Expected e.g. "
                                     "mysql+pymysql://user:password@host:3306/database") from None
        backend = parsed.get_backend_name()
        options = sorted(k for k in parsed.query if not (backend != SQLITE and k == "charset"))
        if options:
            raise ConfigurationError("Database URL options are not accepted (" + ", ".join(options) + "): "
                                     "give host, port, user, password, database and character set only.")
        if backend == SQLITE:
            db = cls(engine=SQLITE, host="", port=0, database=parsed.database or "")
        elif backend in ("mysql", "mariadb"):
            charset = parsed.query.get("charset") or DEFAULT_CHARSET
            db = cls(engine=MYSQL, host=parsed.host or "", port=parsed.port or DEFAULT_PORT,
                     user=parsed.username or "", password=parsed.password or "", database=parsed.database or "",
                     charset=charset if isinstance(charset, str) else charset[0])
        else:
            raise ConfigurationError(f"Shop database must be MySQL/MariaDB (or SQLite for the demo), got {backend!r}.")
        db.validate()
        return db


def check_ca_pem(text: str) -> str:
    """The owner's CA certificate(s) as TLS will load them, or ConfigurationError saying what is wrong. Returns the
    text stripped. Loaded exactly as the connection loads it (`ssl` cadata), so what passes here works there."""
    import ssl

    text = (text or "").strip()
    if len(text.encode()) > CA_PEM_MAX:
        raise ConfigurationError(f"The CA certificate is longer than {CA_PEM_MAX // 1024} kB: paste only the CA "
                                 f"certificate(s) in PEM form.")
    if "PRIVATE KEY" in text:
        raise ConfigurationError("This is a private key: paste the CA's certificate (BEGIN CERTIFICATE), never a key.")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigurationError("Not a PEM certificate: it must begin with -----BEGIN CERTIFICATE-----.")
    try:
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigurationError(f"The CA certificate cannot be read ({exc.args[-1] if exc.args else exc}).") from None
    return text
