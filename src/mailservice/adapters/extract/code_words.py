"""Words that tell a one-time code from other numbers, in English, German, French, Spanish and
Portuguese (with some Italian and Dutch). All lowercase; matched against single words.
"""

from __future__ import annotations

CODE_NOUNS = frozenset(
    {"code", "codes", "otp", "otps", "passcode", "passcodes", "pin", "tan", "código", "codigo", "códigos"}
    | {"codigos", "codice", "codici", "kod", "kód", "koodi", "kode", "pincode", "passcode", "otpcode"}
)
"""Words naming the code itself."""

CODE_COMPOUND_PREFIXES = frozenset(
    {"bestätigungs", "bestaetigungs", "verifizierungs", "verifikations", "sicherheits", "anmelde", "login"}
    | {
        "zugangs",
        "einmal",
        "prüf",
        "pruef",
        "freischalt",
        "aktivierungs",
        "authentifizierungs",
        "bestätigung",
    }
    | {"bevestigings", "verificatie", "inlog", "beveiligings", "toegangs", "pass", "otp", "auth", "sms"}
    | {"verification", "security", "access", "signin", "2fa", "mfa", "tan", "pin", "anmeldungs", "sicherungs"}
)
"""`<prefix>code` words that name a one-time code (German and Dutch compounds mostly)."""

NOT_CODE_NOUNS = frozenset(
    {"postcode", "zipcode", "promocode", "gutscheincode", "rabattcode", "aktionscode", "barcode", "qrcode"}
    | {"sourcecode", "quellcode", "vouchercode", "kortingscode", "couponcode", "geocode", "dresscode"}
    | {
        "ländercode",
        "landcode",
        "countrycode",
        "areacode",
        "statuscode",
        "errorcode",
        "fehlercode",
        "unicode",
    }
    | {"trackingcode", "farbcode", "colorcode", "hexcode", "encode", "decode", "shortcode", "opcode"}
    | {"bytecode", "transcode", "zugangsdaten", "geschenkcode", "einlösecode", "actiecode", "giftcode"}
)

CODE_MODIFIERS_BEFORE = frozenset(
    {"zip", "postal", "post", "promo", "promotional", "promotion", "discount", "coupon", "voucher", "gift"}
    | {"referral", "invite", "qr", "bar", "area", "country", "source", "dress", "tracking", "sort", "swift"}
    | {"tax", "product", "offer", "sale", "color", "colour", "hex", "status", "error", "html", "css", "bank"}
    | {"reward", "redemption", "redeem", "booking", "reservation", "reference", "ref", "order", "invoice"}
    | {"customer", "account", "item", "article", "sku", "style", "shipping", "cheat", "airport", "iata"}
)
"""A "code" after one of these is something else than a one-time code."""

CODE_MODIFIERS_AFTER = frozenset(
    {"postal", "promo", "promocional", "promotionnel", "réduction", "reduction", "descuento", "desconto"}
    | {"cadeau", "regalo", "presente", "sconto", "cupón", "cupom", "postale", "qr", "barras", "rastreo"}
    | {"rastreamento", "seguimiento", "suivi", "avantage", "parrainage", "referido", "indicação", "avantages"}
)
"""A "code"/"código" followed by one of these ("code postal", "código de descuento") is not a one-time code."""

QUALIFIERS = frozenset(
    {"verification", "verify", "verifying", "confirmation", "confirm", "confirming", "authentication"}
    | {"authenticate", "authenticator", "security", "login", "log-in", "logging", "sign-in", "signin"}
    | {"signing", "one-time", "onetime", "single-use", "temporary", "access", "2-step", "two-step"}
    | {"two-factor", "2fa", "mfa", "identity", "sms", "bestätigung", "bestätigen", "bestaetigen"}
    | {"verifizierung", "verifizieren", "anmeldung", "anmelden", "einloggen", "sicherheit", "einmalig"}
    | {"einmaliger", "einmaliges", "authentifizierung", "zwei-faktor", "zugang", "vérification", "vérifier"}
    | {"confirmer", "sécurité", "connexion", "connecter", "authentification", "temporaire", "accès"}
    | {"validation", "valider", "verificación", "verificar", "confirmación", "confirmar", "seguridad"}
    | {"acceso", "autenticación", "temporal", "validación", "verificação", "confirmação", "segurança"}
    | {"acesso", "autenticação", "temporário", "validação", "verifica", "conferma", "sicurezza"}
    | {"accesso", "autenticazione", "verificatie", "bevestiging", "beveiliging", "inloggen", "usage"}
    | {"unique", "único", "única", "unico", "uso", "sign", "login-code", "passwordless", "reset"}
)
"""Words that make a nearby number more likely to be a one-time code."""

PASSWORD_WORDS = frozenset(
    {
        "password",
        "passwort",
        "kennwort",
        "senha",
        "contraseña",
        "contrasena",
        "mot",
        "token",
        "key",
        "schlüssel",
    }
)

USE_WORDS = frozenset(
    {"enter", "use", "type", "input", "paste", "provide", "utilisez", "saisissez", "entrez", "indiquez"}
    | {"saisir", "entrer", "utiliser", "verwende", "verwenden", "nutze", "nutzen", "gib", "geben", "eingeben"}
    | {"introduce", "ingresa", "ingrese", "usa", "utiliza", "escribe", "digite", "insira", "utilize", "use"}
    | {"inserisci", "voer", "gebruik", "introduzca", "informe", "copy", "copie", "kopiere"}
)
"""Words that ask the reader to type what follows."""

IS_YOUR = (
    ("is", "your"),
    ("is", "the"),
    ("is", "my"),
    ("ist", "dein"),
    ("ist", "deine"),
    ("ist", "ihr"),
    ("ist", "ihre"),
    ("est", "votre"),
    ("est", "ton"),
    ("es", "tu"),
    ("es", "su"),
    ("é", "o"),
    ("é", "seu"),
    ("é", "sua"),
    ("è", "il"),
    ("is", "je"),
    ("is", "uw"),
)
"""Phrases right after a code that introduce it: "482913 is your code"."""

LABELS = frozenset(
    {"order", "orders", "invoice", "inv", "ref", "reference", "tracking", "track", "shipment", "parcel"}
    | {"package", "account", "acct", "customer", "client", "member", "membership", "ticket", "case"}
    | {"booking", "reservation", "transaction", "txn", "receipt", "policy", "serial", "sku", "item"}
    | {"article", "model", "part", "loyalty", "card", "iban", "bic", "swift", "routing", "vat", "tax"}
    | {"version", "build", "release", "ver", "issue", "pr", "flight", "room", "seat", "gate", "table"}
    | {"bestellung", "bestellnummer", "bestell-nr", "auftrag", "auftragsnummer", "rechnung", "bill"}
    | {"rechnungsnummer", "kundennummer", "kunden-nr", "kundenkonto", "sendung", "sendungsnummer"}
    | {"vorgang", "vorgangsnummer", "buchung", "buchungsnummer", "vertrag", "vertragsnummer", "referenz"}
    | {"aktenzeichen", "ticketnummer", "artikelnummer", "steuernummer", "mitgliedsnummer", "konto"}
    | {"commande", "facture", "référence", "suivi", "colis", "dossier", "réservation", "compte", "contrat"}
    | {"pedido", "factura", "referencia", "seguimiento", "envío", "envio", "reserva", "cliente", "cuenta"}
    | {"expediente", "encomenda", "fatura", "referência", "rastreamento", "rastreio", "conta", "protocolo"}
    | {"ordine", "fattura", "bestelling", "factuur", "versão", "versión", "versie", "postleitzahl", "plz"}
    | {"zip", "postal", "postcode", "zipcode", "unit", "apt", "apartment", "suite", "box", "ext"}
)
"""Words that name a number as something else than a code, when right before it."""

PHONE_WORDS = frozenset(
    {"phone", "telephone", "tel", "call", "fax", "mobile", "cell", "hotline", "whatsapp", "telefon"}
    | {"tél", "téléphone", "telephone", "teléfono", "telefono", "telefone", "celular", "helpline", "dial"}
    | {"anrufen", "rufen", "appelez", "llame", "llámanos", "ligue", "ring", "text", "phones", "handy"}
)
"""Words naming a phone number, up to a few words before it."""

NUMBER_WORDS = frozenset(
    {"number", "numbers", "nummer", "numéro", "numero", "número", "id", "nr", "no", "n°", "nº"}
)

FILLERS = frozenset(
    {"is", "ist", "est", "es", "é", "was", "of", "du", "de", "der", "des", "your", "ihre", "ihr", "deine"}
    | {"dein", "votre", "ton", "tu", "su", "seu", "sua", "the", "a", "an", "our", "my", "this", "le", "la"}
    | {"el", "o", "da", "do", "del", "us", "at", "on", "under", "unter", "au", "al", "para", "to", "for"}
)
"""Small words that may stand between a label and its number: "Call us at", "Order number is"."""

PROMO_WORDS = frozenset(
    {"promo", "promotional", "promotion", "discount", "coupon", "voucher", "gift", "off", "sale", "referral"}
    | {"reward", "rewards", "cashback", "rabatt", "gutschein", "aktion", "angebot", "réduction", "remise"}
    | {"soldes", "descuento", "cupón", "cupon", "oferta", "promoción", "desconto", "cupom", "promoção"}
    | {"sconto", "korting", "deal", "deals", "bonus"}
)

MONTHS = frozenset(
    {"jan", "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun", "june", "jul"}
    | {"july", "aug", "august", "sep", "sept", "september", "oct", "october", "nov", "november", "dec"}
    | {"december", "januar", "jänner", "februar", "märz", "mai", "juni", "juli", "oktober", "dezember"}
    | {"janvier", "février", "mars", "avril", "juin", "juillet", "août", "septembre", "octobre"}
    | {"novembre", "décembre", "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto"}
    | {"septiembre", "setiembre", "octubre", "noviembre", "diciembre", "janeiro", "fevereiro", "março"}
    | {"maio", "junho", "julho", "setembro", "outubro", "novembro", "dezembro", "okt", "dez", "mär"}
    | {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue", "wed"}
    | {"thu", "fri", "sat", "sun", "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag"}
    | {"sonntag", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "year", "jahr"}
    | {"since", "seit", "depuis", "desde", "année", "año", "ano", "in", "im", "en", "em", "of"}
)
"""Words next to a year in a date ("May 2025", "since 2019", "im Jahr 2024")."""

UNITS = frozenset(
    {"percent", "pct", "prozent", "pourcent", "km", "mi", "miles", "kg", "lbs", "lb", "g", "mg", "ml"}
    | {"mb", "gb", "kb", "tb", "px", "pt", "ms", "sec", "secs", "seconds", "min", "mins", "minutes"}
    | {"minuten", "hours", "hrs", "h", "stunden", "days", "tage", "jours", "días", "dias", "items", "points"}
    | {"pts", "punkte", "users", "members", "followers", "views", "likes", "people", "times", "x", "m"}
    | {"cm", "mm", "ft", "sq", "steps", "calories", "kcal", "words", "pages", "reviews", "ratings", "stars"}
    | {"customers", "downloads", "uhr", "am", "pm", "o'clock", "euro", "euros", "eur", "usd", "dollars"}
    | {"dollar", "gbp", "chf", "pounds", "cad", "aud", "jpy", "sek", "nok", "dkk", "pln", "brl", "mxn"}
    | {"reais", "pesos", "yen", "kr", "franken", "francs", "inr", "rs", "employees", "companies", "stores"}
    | {"locations", "countries", "cities", "km/h", "mph", "kwh", "w", "v", "mah", "hz", "ghz", "mhz"}
)
"""Words after a number that make it a quantity or an amount."""

CURRENCY_WORDS = frozenset(
    {"usd", "eur", "gbp", "chf", "cad", "aud", "jpy", "cny", "inr", "sek", "nok", "dkk", "pln", "brl"}
    | {"mxn", "czk", "huf", "rub", "try", "zar", "nzd", "sgd", "hkd", "rs", "r$", "us$", "ca$", "au$"}
)
CURRENCY_SYMBOLS = "$€£¥₹₽₩₺₪฿₫₴₦¢"
