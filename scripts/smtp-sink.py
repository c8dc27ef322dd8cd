#!/usr/bin/python3
"""A real SMTP server for the e-mail channel's tests: aiosmtpd (Debian's python3-aiosmtpd),
on loopback, with STARTTLS or implicit TLS on a certificate made for this run, and AUTH
required over TLS. Every message it takes is kept in --dir as NNN.eml (the raw message)
and NNN.json (envelope and decoded parts), so tests read what a recipient would.

A file `fail` in --dir holding a number N makes the next N messages answer 451 (a
temporary failure, as a relay that is down or greylisting answers: RFC 5321 4.2.5), so
tests see retries.

Usage: smtp-sink.py --dir DIR --mode starttls|tls --user U --password P
Writes DIR/port once it listens and DIR/ca.pem, the CA a client must trust."""

import argparse
import asyncio
from datetime import datetime, timezone
import json
import logging
import os
import ssl
import subprocess
import warnings
from email import policy
from email.parser import BytesParser

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def certificate(directory):
    """A certificate for 127.0.0.1 and localhost, signed by a CA made for this run (a
    self-signed server certificate is refused by webpki as a CA used as an end entity).
    The client trusts DIR/ca.pem."""
    path = lambda name: os.path.join(directory, name)

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca.key"),
            "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=Rulewatch test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("key.pem"),
            "-out", path("leaf.csr"), "-subj", "/CN=localhost")
    with open(path("leaf.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", path("leaf.csr"), "-CA", path("ca.pem"), "-CAkey",
            path("ca.key"), "-CAcreateserial", "-out", path("cert.pem"), "-days", "2",
            "-extfile", path("leaf.ext"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(path("cert.pem"), path("key.pem"))
    return context


class Keep:
    """Keeps each message; answers 451 while the `fail` file asks."""

    def __init__(self, directory, implicit_tls):
        self.directory = directory
        self.implicit_tls = implicit_tls
        self.count = 0

    def failing(self):
        path = os.path.join(self.directory, "fail")
        try:
            with open(path) as f:
                left = int(f.read().strip() or "0")
        except (FileNotFoundError, ValueError):
            return False
        if left <= 0:
            return False
        with open(path, "w") as f:
            f.write(str(left - 1))
        return True

    async def handle_DATA(self, server, session, envelope):
        if self.failing():
            return "451 4.3.0 Temporary failure, try again later"
        self.count += 1
        stem = os.path.join(self.directory, f"{self.count:03d}")
        with open(stem + ".eml", "wb") as f:
            f.write(envelope.original_content)
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        record = {
            # When it arrived, for measuring how long delivery takes.
            "received_at": datetime.now(timezone.utc).isoformat(),
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": session.auth_data.login.decode() if session.auth_data else None,
            "tls": self.implicit_tls or session.ssl is not None,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "in_reply_to": message["In-Reply-To"] and str(message["In-Reply-To"]),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
        }
        # Written beside, then renamed: a reader never sees half a record.
        with open(stem + ".json.tmp", "w") as f:
            json.dump(record, f)
        os.replace(stem + ".json.tmp", stem + ".json")
        return "250 2.0.0 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--mode", choices=["starttls", "tls"], required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    context = certificate(args.dir)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == args.user
              and auth_data.password.decode() == args.password)
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: aiosmtpd answers 535 itself (RFC 4954's "credentials invalid").
        return AuthResult(success=False, handled=False)

    handler = Keep(args.dir, args.mode == "tls")
    # aiosmtpd warns of AUTH without required TLS; in implicit-TLS mode every byte is
    # already encrypted, which aiosmtpd 1.4 cannot tell.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    # aiosmtpd logs its own deprecated `login_data` on every AUTH, and a traceback for
    # each client that drops the TLS handshake (as an untrusting client must): the
    # tests read the kept messages, not this log.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)

    def protocol():
        return SMTP(
            handler,
            hostname="localhost",
            # STARTTLS mode: plain until the client upgrades, and no AUTH or mail before.
            tls_context=context if args.mode == "starttls" else None,
            require_starttls=args.mode == "starttls",
            authenticator=authenticate,
            auth_required=True,
            auth_require_tls=args.mode == "starttls",
        )

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            protocol, "127.0.0.1", 0, ssl=context if args.mode == "tls" else None)
        port = server.sockets[0].getsockname()[1]
        with open(os.path.join(args.dir, "port.tmp"), "w") as f:
            f.write(str(port))
        os.replace(os.path.join(args.dir, "port.tmp"), os.path.join(args.dir, "port"))
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
