"""What a link in a mail is for: verify an address, reset a password, sign in, unsubscribe, or other.

The link's own text decides first, then its address (path, query and fragment), then, when the
text says nothing ("click here", the address itself), the words closest to it. A sign-in link counts
as a magic link only if its address carries a token (or its text says "magic link"): a plain link to
a login page is "other".
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

VERIFY, MAGIC_LINK, RESET, UNSUBSCRIBE, OTHER = "verify", "magic-link", "reset", "unsubscribe", "other"

_TEXT_PATTERNS = (
    (
        UNSUBSCRIBE,
        r"unsubscri|opt[\s-]?out|(?:email|e-mail|mail|notification|subscription|communication)s?\s+"
        r"(?:preferences|settings)|manage\s+(?:your\s+)?(?:\w+\s+)?(?:preferences|subscriptions?)"
        r"|update\s+(?:your\s+)?preferences|stop\s+receiving|abmelden|abbestellen|désabonner|desabonner"
        r"|désinscri|desinscri|darse\s+de\s+baja|dar(?:te)?\s+de\s+baja|cancelar\s+(?:la\s+)?suscripci"
        r"|anular\s+(?:la\s+)?suscripci|descadastr|cancelar\s+(?:a\s+)?inscri|cancelar\s+assinatura",
    ),
    (
        RESET,
        r"reset|forgot|(?:change|new|set|choose|create)\s+(?:a\s+|your\s+)?(?:new\s+)?password|recover"
        r"|passwort\s+(?:zurücksetzen|vergessen|ändern)|neues\s+passwort|kennwort|réinitialis|reinitialis"
        r"|nouveau\s+mot\s+de\s+passe|mot\s+de\s+passe\s+oublié|restablecer|nueva\s+contraseña"
        r"|redefinir|recuperar\s+(?:la\s+|tu\s+|sua\s+)?(?:contraseña|senha)|nova\s+senha",
    ),
    (
        VERIFY,
        r"verif|confirm|activat|activer|activar|ativar|validat|valider|validar|bestätig|bestaetig"
        r"|aktivier|freischalt|vérifi",
    ),
    (
        MAGIC_LINK,
        r"\bsign[\s-]?in\b|\blog[\s-]?in\b|\bsign\s+me\s+in|\blog\s+me\s+in|magic[\s-]link|\banmelden"
        r"|einloggen|se\s+connecter|\bconnexion|iniciar\s+sesión|inicia\s+sesión|\bentrar\b|\bacceder\b"
        r"|\bacessar\b|fazer\s+login",
    ),
)
_TEXT = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _TEXT_PATTERNS]
_NOT_VERIFY = re.compile(
    r"(?:order|booking|reservation|purchase|payment|shipping|delivery|appointment|bestell|buchung|commande"
    r"|réservation|pedido|reserva)\w{0,12}[\s_-]{0,3}(?:\w{1,20}[\s_-]{1,3})?confirm",
    re.IGNORECASE,
)
_EXPLICIT_MAGIC = re.compile(r"magic[\s-]?link|(?:sign[\s-]?in|log[\s-]?in|login)\s+link|passwordless", re.I)
_URL_PATTERNS = (
    (
        UNSUBSCRIBE,
        r"unsub|opt[-_]?out|preferences|manage[-_]?(?:subscription|email|notification)|subscription[-_]?"
        r"(?:center|centre|settings)|abmelden|abbestellen|desinscri|désinscri|desabonn|désabonn|baja"
        r"|descadastr",
    ),
    (RESET, r"reset|forgot|recover|password|passwort|mot[-_]de[-_]passe|contrase|senha|kennwort"),
    (
        VERIFY,
        r"verif|confirm|activat|activate|validat|double[-_]?opt|bestaetig|bestätig|aktivier|confirmer"
        r"|valider|confirmar|ativar|activar",
    ),
    (
        MAGIC_LINK,
        r"magic|\blog[-_]?in|\bsign[-_]?in|/auth\b|/oauth|authenticat|/sessions?\b|/sso\b|one[-_]?time"
        r"|\botp\b|passwordless|anmeld|einlogg|connexion",
    ),
)
_URL = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _URL_PATTERNS]
_GENERIC_TEXT = re.compile(
    r"^(?:(?:please\s+)?(?:click|tap|press|follow|open|use|visit)\s+)?(?:on\s+)?(?:here|this\s+link|the\s+link"
    r"|link|button|below|this|it|open|go|continue|weiter|hier|hier\s+klicken|ici|cliquez\s+ici|aquí|aqui"
    r"|haz\s+clic\s+aquí|haga\s+clic\s+aquí|clique\s+aqui)?[\s.!:>»→]*$",
    re.IGNORECASE,
)
_TOKEN_NAMES = frozenset(
    {"token", "code", "key", "otp", "t", "k", "s", "auth", "hash", "sig", "signature", "nonce", "ticket"}
    | {"login_token", "magic", "jwt", "id_token", "access_token", "hmac", "secret", "h", "c", "oobcode"}
)
_RANDOM = re.compile(r"^[A-Za-z0-9_\-.~%=+]{16,}$")
_LETTER, _DIGIT = re.compile(r"[A-Za-z]"), re.compile(r"\d")
_NEAR = 120  # how many characters of surrounding text may name the link's purpose


def classify(url: str, text: str, before: str = "", after: str = "") -> str:
    """The kind of link at `url`, shown as `text`, between the words `before` and `after` it."""
    has_token = carries_token(url)
    kind = _from_text(text, has_token)
    if kind is None:
        kind = _from_url(url, has_token)
    if kind is None and is_generic(text):
        kind = _from_surroundings(before[-_NEAR:], after[:_NEAR], has_token)
    return kind or OTHER


def is_generic(text: str) -> bool:
    """Link text that says nothing of its purpose: empty, "click here", or an address."""
    stripped = text.strip()
    return (
        not stripped
        or stripped.lower().startswith(("http://", "https://"))
        or bool(_GENERIC_TEXT.match(stripped))
    )


def _from_text(text: str, has_token: bool) -> str | None:
    for kind, pattern in _TEXT:
        if pattern.search(text) and _allowed(kind, text, has_token):
            return kind
    return None


def _allowed(kind: str, text: str, has_token: bool) -> bool:
    if kind == VERIFY:
        return not _NOT_VERIFY.search(text)
    return kind != MAGIC_LINK or has_token or bool(_EXPLICIT_MAGIC.search(text))


def _from_url(url: str, has_token: bool) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    where = unquote(f"{parts.path}?{parts.query}#{parts.fragment}")
    for kind, pattern in _URL:
        named = pattern.search(where) or (kind == UNSUBSCRIBE and pattern.search(parts.hostname or ""))
        if named and _allowed(kind, where, has_token) and (kind not in (MAGIC_LINK, VERIFY) or has_token):
            return kind
    return None


def _from_surroundings(before: str, after: str, has_token: bool) -> str | None:
    """The purpose named closest to the link, before or after it."""
    best: tuple[int, str] | None = None
    for kind, pattern in _TEXT:
        for match in pattern.finditer(before):
            distance = len(before) - match.end()
            if _allowed(kind, before, has_token) and (best is None or distance < best[0]):
                best = (distance, kind)
        match_after = pattern.search(after)
        if match_after is None or not _allowed(kind, after, has_token):
            continue
        if best is None or match_after.start() < best[0]:
            best = (match_after.start(), kind)
    return None if best is None else best[1]


def carries_token(url: str) -> bool:
    """The address holds something secret-looking: a token parameter or a long random segment."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if (name.lower() in _TOKEN_NAMES and len(value) >= 6) or _random(value):
            return True
    segments = [*parts.path.split("/"), *parts.fragment.replace("?", "/").replace("=", "/").split("/")]
    return any(_random(segment) for segment in segments)


def _random(value: str) -> bool:
    return bool(_RANDOM.match(value)) and bool(_LETTER.search(value)) and bool(_DIGIT.search(value))
