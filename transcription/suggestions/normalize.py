"""Text normalisation and phrase patterns for the local suggestion engine.

Speech recognition hands us lower-quality Portuguese than a typed note: accents go missing, words are
split ("dis pneia") or merged ("dordecabeça"), plurals and lay terms vary ("falta de ar", "zonzeira").
Both the knowledge-base patterns and the transcript go through the same `Normalizer`, so a pattern is
written once in plain Portuguese and matches every spelling that folds to the same tokens.

Pattern language (one phrase per string, tokens separated by spaces):
- a word matches that word after normalisation ("dor de cabeça" also matches "dores de cabeca");
- `a|b|c` matches any of the alternatives;
- a word ending in `*` matches any token starting with it ("comec*" → começou, começando);
- a lone `*` skips 0–3 words (and commas), never across a sentence boundary (. ; ? !);
- `{num}` is shorthand for digits and spelled-out numbers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

# Token that marks a sentence boundary (. ? ! ;). Patterns and gaps never cross it, so
# "Não. Tenho dor de cabeça" does not read as a negated headache.
CLAUSE = "#"
# Token for a comma: speech recognition scatters commas mid-phrase ("E a nuca, tá dura?"), so a gap
# may step over one, but a negation does not reach across it ("não, doutor, tô com dor de cabeça").
PAUSE = "~"
BOUNDARIES = frozenset({CLAUSE, PAUSE})
MAX_GAP = 3
# Shorter words are too easily confused with other real words ("peito"/"feito") to be guessed.
FUZZY_MIN_LEN = 7

_BOUNDARY = re.compile(r"[.!?;:()\[\]\n\"…]+")
_PAUSE = re.compile(r",+")
_NON_WORD = re.compile(r"[^a-z0-9#~*|{}]+")
_PATTERN_SYNTAX = re.compile(r"[#~*|{}]")

# Tokens that plural folding would turn into a different real word ("dois" → "doi" = dói).
_NO_FOLD = frozenset({"dois", "pois", "depois", "apos", "mais", "menos", "tres", "seis", "voces", "gas", "pes"})

NUMBER_WORDS = (
    "0|1|2|3|4|5|6|7|8|9|10|11|12|15|20|30|zero|um|uma|dois|duas|tres|quatro|cinco|seis|sete|oito|nove|dez"
    "|onze|doze|quinze|vinte|trinta|meia|meio|uns|umas|alguns|algumas|poucos|poucas"
)


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(token: str) -> str:
    """Fold a Portuguese token to a crude singular stem, the same for singular and plural.

    dores/dor → dor, crises/crise → cris, palpitações/palpitação → palpitacao, dias/dia → dia.
    A stem need not be a word; it only has to be the same for every inflection we care about.
    """
    if len(token) < 4 or token in _NO_FOLD or not token.isalpha():
        return token
    for plural in ("oes", "aes", "aos"):
        if token.endswith(plural):
            return token[: -len(plural)] + "ao"
    if token.endswith("ns"):
        return token[:-2] + "m"
    if token.endswith("s"):
        token = token[:-1]
    if len(token) >= 4 and token.endswith("e"):
        token = token[:-1]
    return token


def basic_tokens(text: str, contractions: Mapping[str, str] | None = None, *, folded: bool = True) -> list[str]:
    """Lowercase, strip accents, mark clause boundaries, expand contractions, fold plurals."""
    text = strip_accents(text.lower())
    text = _PAUSE.sub(f" {PAUSE} ", _BOUNDARY.sub(f" {CLAUSE} ", text))
    tokens: list[str] = []
    for raw in _NON_WORD.sub(" ", text).split():
        expanded = contractions.get(raw, raw) if contractions else raw
        tokens.extend(fold(part) if folded else part for part in expanded.split())
    # Collapse repeated and leading/trailing boundaries (the stronger one wins): they carry no meaning
    # of their own.
    cleaned: list[str] = []
    for token in tokens:
        if token in BOUNDARIES:
            if not cleaned:
                continue
            if cleaned[-1] in BOUNDARIES:
                if token == CLAUSE:
                    cleaned[-1] = CLAUSE
                continue
        cleaned.append(token)
    while cleaned and cleaned[-1] in BOUNDARIES:
        cleaned.pop()
    return cleaned


def _deletions(token: str) -> set[str]:
    return {token[:i] + token[i + 1 :] for i in range(len(token))}


class Normalizer:
    """Turns free text into the token sequence that patterns are matched against.

    Steps: basic tokens → repair against the known vocabulary (merged words, split words, one-letter
    typos in long words) → rewrite synonyms and lay terms to one canonical token.
    """

    def __init__(self, *, synonyms: Mapping[str, Iterable[str]] = (), contractions: Mapping[str, str] = ()):
        self.contractions = dict(contractions)
        # variant token tuple → canonical token; canonical terms are single tokens by construction.
        self._synonyms: dict[tuple[str, ...], str] = {}
        for canonical, variants in dict(synonyms).items():
            canonical_tokens = basic_tokens(canonical, self.contractions)
            if len(canonical_tokens) != 1:
                raise ValueError(f"synonym canonical term must be one word: {canonical!r}")
            for variant in variants:
                variant_tokens = tuple(basic_tokens(variant, self.contractions))
                if variant_tokens:
                    self._synonyms[variant_tokens] = canonical_tokens[0]
        self._max_synonym_len = max((len(v) for v in self._synonyms), default=1)
        self.vocabulary: frozenset[str] = frozenset()
        self._prefixes: tuple[str, ...] = ()
        self._compact_phrases: dict[str, tuple[str, ...]] = {}
        self._deletion_index: dict[str, tuple[str, ...]] = {}
        self.tokens = lru_cache(maxsize=8192)(self._tokens)

    # -- vocabulary ---------------------------------------------------------------------------
    def learn(self, *, words: Iterable[str], prefixes: Iterable[str], phrases: Iterable[tuple[str, ...]]) -> None:
        """Record the words the knowledge base knows, so transcripts can be repaired towards them."""
        vocabulary = set(words)
        for variant, canonical in self._synonyms.items():
            vocabulary.update(variant)
            vocabulary.add(canonical)
        vocabulary -= BOUNDARIES
        self.vocabulary = frozenset(vocabulary)
        self._prefixes = tuple(sorted(set(prefixes)))
        compact: dict[str, tuple[str, ...]] = {}
        for phrase in [*self._synonyms.keys(), *phrases]:
            if len(phrase) > 1 and all(t.isalnum() for t in phrase):
                compact.setdefault("".join(phrase), phrase)
        self._compact_phrases = compact
        index: dict[str, set[str]] = {}
        for word in self.vocabulary:
            if len(word) >= FUZZY_MIN_LEN and word.isalpha():
                for key in _deletions(word) | {word}:
                    index.setdefault(key, set()).add(word)
        self._deletion_index = {k: tuple(sorted(v)) for k, v in index.items()}
        self.tokens.cache_clear()

    def _known(self, token: str) -> bool:
        return token in self.vocabulary or any(token.startswith(p) for p in self._prefixes)

    def _closest(self, token: str) -> str | None:
        if len(token) < FUZZY_MIN_LEN or not token.isalpha():
            return None
        candidates: set[str] = set()
        for key in _deletions(token) | {token}:
            candidates.update(self._deletion_index.get(key, ()))
        # Deterministic: the first candidate in alphabetical order among those of equal length
        # difference wins; ties are rare in a clinical vocabulary.
        return min(candidates, key=lambda w: (abs(len(w) - len(token)), w)) if candidates else None

    def _repair(self, raw_tokens: list[str]) -> list[str]:
        """Fold raw (unfolded) tokens, repairing split, merged and mistyped words on the way."""
        repaired: list[str] = []
        i = 0
        while i < len(raw_tokens):
            raw = raw_tokens[i]
            token = fold(raw)
            if raw in BOUNDARIES or token in self.vocabulary:
                repaired.append(token)
                i += 1
                continue
            # "dis pneia" → "dispneia": join two pieces when the join is a known word.
            if i + 1 < len(raw_tokens) and raw_tokens[i + 1] not in BOUNDARIES:
                following = raw_tokens[i + 1]
                joined = fold(raw + following)
                if joined in self.vocabulary and not (self._known(token) and self._known(fold(following))):
                    repaired.append(joined)
                    i += 2
                    continue
            if raw in self._compact_phrases or token in self._compact_phrases:  # "dordecabeca"
                repaired.extend(self._compact_phrases.get(raw) or self._compact_phrases[token])
            elif not self._known(token) and (closest := self._closest(token)):
                repaired.append(closest)
            else:
                repaired.append(token)
            i += 1
        return repaired

    def _rewrite_synonyms(self, tokens: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self._max_synonym_len, len(tokens) - i), 0, -1):
                canonical = self._synonyms.get(tuple(tokens[i : i + n]))
                if canonical is not None:
                    out.append(canonical)
                    i += n
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    def _tokens(self, text: str) -> tuple[str, ...]:
        # Pattern syntax characters mean nothing in a transcript.
        raw_tokens = basic_tokens(_PATTERN_SYNTAX.sub(" ", text), self.contractions, folded=False)
        return tuple(self._rewrite_synonyms(self._repair(raw_tokens)))

    # -- patterns -----------------------------------------------------------------------------
    def literal_tokens(self, pattern: str) -> list[str]:
        """Folded literal words of a pattern before synonym rewriting (they feed the vocabulary)."""
        words = []
        for raw in pattern.replace("{num}", "").split():
            for alternative in raw.split("|"):
                if alternative.endswith("*"):
                    continue
                words.extend(t for t in basic_tokens(alternative, self.contractions) if t not in BOUNDARIES)
        return words

    def compile(self, pattern: str) -> Pattern:
        parts: list[PatternToken] = []
        run: list[str] = []  # plain words waiting for synonym rewriting

        def flush() -> None:
            if run:
                words = self._rewrite_synonyms(basic_tokens(" ".join(run), self.contractions))
                parts.extend(PatternToken(kind="word", values=(w,)) for w in words)
                run.clear()

        for raw in pattern.replace("{num}", NUMBER_WORDS).split():
            if raw == "*":
                flush()
                parts.append(PatternToken(kind="gap"))
            elif "|" in raw:
                flush()
                words: list[str] = []
                prefixes: list[str] = []
                for alternative in raw.split("|"):
                    if alternative.endswith("*"):
                        prefixes.append(self._prefix(alternative, pattern))
                        continue
                    alt_tokens = self._rewrite_synonyms(basic_tokens(alternative, self.contractions))
                    if len(alt_tokens) != 1:
                        raise ValueError(f"alternatives must be single words in pattern {pattern!r}")
                    words.append(alt_tokens[0])
                parts.append(
                    PatternToken(
                        kind="word", values=tuple(dict.fromkeys(words)), prefixes=tuple(dict.fromkeys(prefixes))
                    )
                )
            elif raw.endswith("*"):
                flush()
                parts.append(PatternToken(kind="word", prefixes=(self._prefix(raw, pattern),)))
            else:
                run.append(raw)
        flush()
        if not parts or parts[0].kind == "gap" or parts[-1].kind == "gap":
            raise ValueError(f"pattern must start and end with a word: {pattern!r}")
        return Pattern(source=pattern, tokens=tuple(parts))

    @staticmethod
    def _prefix(raw: str, pattern: str) -> str:
        prefix = strip_accents(raw[:-1].lower())
        if len(prefix) < 3 or not prefix.isalnum():
            raise ValueError(f"prefix {raw!r} must have at least 3 letters in pattern {pattern!r}")
        return prefix


@dataclass(frozen=True)
class PatternToken:
    kind: str  # "word" | "gap"
    values: tuple[str, ...] = ()  # whole words accepted
    prefixes: tuple[str, ...] = ()  # or any token starting with one of these

    def accepts(self, token: str) -> bool:
        if token in BOUNDARIES:
            return False
        return token in self.values or any(token.startswith(p) for p in self.prefixes)


@dataclass(frozen=True)
class Pattern:
    source: str
    tokens: tuple[PatternToken, ...]

    def find(self, tokens: tuple[str, ...]) -> int | None:
        """Index of the first token where the pattern matches, or None."""
        for start in range(len(tokens)):
            if self._match_at(0, tokens, start):
                return start
        return None

    def match_at(self, tokens: tuple[str, ...], start: int) -> bool:
        """Whether the pattern matches beginning exactly at `start`."""
        return self._match_at(0, tokens, start)

    def _match_at(self, pi: int, tokens: tuple[str, ...], ti: int) -> bool:
        if pi == len(self.tokens):
            return True
        part = self.tokens[pi]
        if part.kind == "gap":
            skipped_words = 0
            end = ti
            while True:
                if self._match_at(pi + 1, tokens, end):
                    return True
                if end >= len(tokens) or tokens[end] == CLAUSE:
                    return False
                if tokens[end] != PAUSE:
                    skipped_words += 1
                    if skipped_words > MAX_GAP:
                        return False
                end += 1
        if ti >= len(tokens) or not part.accepts(tokens[ti]):
            return False
        return self._match_at(pi + 1, tokens, ti + 1)
