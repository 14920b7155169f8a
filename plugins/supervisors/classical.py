"""A weak supervisor from another model family: a classical text classifier.

TF-IDF features of the prompt (word n-grams) and a logistic regression, trained on the labeled
split's gold, as the weak model is. Its errors follow surface cues (words that co-occur with a
label), which is the kind of weak supervisor weak-to-strong generalization is about: a student
that knows the task should not learn those cues from it. scikit-learn is an optional extra
(``pip install 'w2s-harness[classical]'``), imported only when labels are made.
"""

from __future__ import annotations

from pydantic import Field

from harness import Capability, Params, Row, Supervisor, hookimpl
from harness.errors import HarnessError


class TfidfParams(Params):
    ngrams: int = Field(2, ge=1, le=3, description="word n-grams up to this length")
    c: float = Field(1.0, gt=0, description="inverse regularisation strength (scikit-learn's C)")
    min_df: int = Field(2, ge=1, description="ignore n-grams in fewer labeled prompts than this")


class Tfidf(Supervisor):
    """A TF-IDF logistic regression on the prompt, trained on the labeled split's gold."""

    name = "tfidf"
    Params = TfidfParams

    def label(self, capability: Capability, rows: list[Row], splits: dict[str, list[Row]],
              seed: int) -> list[str]:
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression
        except ImportError:
            raise HarnessError("supervisor tfidf needs scikit-learn: pip install "
                               "'w2s-harness[classical]'") from None
        train = splits["labeled"]
        if any(r.choices for r in train):
            raise HarnessError(f"supervisor tfidf labels classifications (one label set for "
                               f"every item); {capability.name} is multiple-choice, whose "
                               "answers are the item's own options: use another supervisor")
        targets: dict[str, str] = {}
        for r in train:  # each label as the capability writes it (a label-only target)
            targets.setdefault(capability.gold_of(r), r.target)
        if len(targets) < 2:
            raise HarnessError(f"supervisor tfidf: the labeled split of {capability.name} has "
                               f"{len(targets)} label; it needs at least 2 to learn from")
        p = self.params
        vectorizer = TfidfVectorizer(ngram_range=(1, p.ngrams), min_df=p.min_df,
                                     sublinear_tf=True)
        features = vectorizer.fit_transform([r.prompt for r in train])
        model = LogisticRegression(C=p.c, max_iter=2000, random_state=seed)
        model.fit(features, [capability.gold_of(r) for r in train])
        return [targets[y] for y in model.predict(vectorizer.transform([r.prompt for r in rows]))]


@hookimpl
def register_supervisors(register):
    register(Tfidf)
