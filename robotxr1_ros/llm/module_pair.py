"""The two modules built the one way the car builds them, for the LLM node, `ask`, `eval`, `replay`
and `bench llm`: each module on a backend of its own (one KV cache per prompt family, the same
memory-mapped weights), with the answer settings of AnswerSettings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .backends import Backend
from .decision import DecisionxR1
from .model_spec import ModelSpec
from .node_config import DEFAULTS, LlmNodeConfig
from .tuning import MPCxR1


@dataclass(frozen=True)
class ModuleBackends:
    """The backends of the two modules (the same object twice is fine, e.g. a scripted one)."""

    decision: Backend
    tuning: Backend

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> ModuleBackends:
        """One backend per module, each with its own adapter and KV cache."""
        return cls(spec.create("decision"), spec.create("tuning"))


@dataclass(frozen=True)
class ModulePair:
    decision: DecisionxR1
    tuning: MPCxR1


@dataclass(frozen=True)
class AnswerSettings:
    """How the two modules answer: the LLM node's settings of that, or a command's options."""

    use_grammar: bool = DEFAULTS.use_grammar
    max_tokens: int = DEFAULTS.max_tokens
    retrieval_k: int = DEFAULTS.retrieval_k
    decision_reasoning_chars: int = DEFAULTS.decision_reasoning_chars
    tuning_reasoning_chars: int = DEFAULTS.tuning_reasoning_chars
    seed: int = 0
    decision_facts: bool = DEFAULTS.decision_facts
    param_set: str = DEFAULTS.param_set

    @classmethod
    def of_node(cls, config: LlmNodeConfig) -> AnswerSettings:
        return cls(use_grammar=config.use_grammar, max_tokens=config.max_tokens, retrieval_k=config.retrieval_k,
                   decision_reasoning_chars=config.decision_reasoning_chars,
                   tuning_reasoning_chars=config.tuning_reasoning_chars, param_set=config.param_set,
                   decision_facts=config.decision_facts)

    def decision(self, backend: Backend) -> DecisionxR1:
        return DecisionxR1(backend, n_hints=self.retrieval_k, use_grammar=self.use_grammar,
                           reasoning_chars=self.decision_reasoning_chars, max_tokens=self.max_tokens, seed=self.seed,
                           facts=self.decision_facts)

    def tuning(self, backend: Backend) -> MPCxR1:
        return MPCxR1(backend, n_memories=self.retrieval_k, use_grammar=self.use_grammar,
                      reasoning_chars=self.tuning_reasoning_chars, max_tokens=self.max_tokens, seed=self.seed,
                      param_set=self.param_set)

    def pair(self, backends: ModuleBackends) -> ModulePair:
        return ModulePair(self.decision(backends.decision), self.tuning(backends.tuning))

    def options(self, module: str) -> dict[str, Any]:
        """What a report says of how `module` ("decision" or "tuning") answered."""
        reasoning = self.decision_reasoning_chars if module == "decision" else self.tuning_reasoning_chars
        options = {"use_grammar": self.use_grammar, "max_tokens": self.max_tokens, "seed": self.seed,
                   "reasoning_chars": reasoning}
        if module == "decision":
            return {**options, "facts": self.decision_facts}
        return {**options, "param_set": self.param_set}


@dataclass(frozen=True)
class DeciderFactory:
    """A picklable recipe for a DecisionxR1: a process of a parallel evaluation builds its own."""

    model: ModelSpec
    settings: AnswerSettings = AnswerSettings()

    def __call__(self) -> DecisionxR1:
        return self.settings.decision(self.model.create("decision"))
