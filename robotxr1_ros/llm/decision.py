"""DecisionxR1: does the car do what the human asked? Instruction + state window -> verdict.

In the deployed loop a True verdict means "Continue behavior" and False means
"Change behavior: <instruction>", which hands the instruction to the MPC module. A state that
cannot support a judgement gives an explicit insufficient-data decision without asking the
model; an answer without a readable verdict gives NO_VERDICT. Neither is ever turned into a guess.

With `reasoning_chars` 0 (the default) the answer is the verdict alone, `<answer>True</answer>`
or `<answer>False</answer>`, read from the model's next-token probabilities after `<answer>`:
one forward pass over the prompt, no sampling (Backend.choose); `robotxr1 bench llm` and
`robotxr1 eval decision --reasoning-chars N` compare it with a reasoning first.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .answer_format import ANSWER_TAG, VERDICT_FALSE, VERDICT_TRUE, close_tag, open_tag
from .backends import CANCELLED, Backend, Completion, StopCheck
from .features import MIN_JUDGEABLE_SAMPLES, InsufficientData, StateFeatures
from .grammar import ANSWER_ONLY, decision_grammar
from .parsing import parse_decision
from .prompts import decision_messages, require_instruction
from .retrieval import RETRIEVAL_K, Bm25Retriever, hint_retriever


class DecisionStatus(StrEnum):
    ADHERES = "adheres"
    DOES_NOT_ADHERE = "does_not_adhere"
    INSUFFICIENT_DATA = "insufficient_data"  # the state cannot support a judgement: the model is not asked
    NO_VERDICT = "no_verdict"  # the answer held no readable verdict


CONTINUE_BEHAVIOR = "Continue behavior"
CHANGE_BEHAVIOR = "Change behavior"
DECISION_REASONING_CHARS = ANSWER_ONLY  # the verdict alone, from next-token probabilities


@dataclass(frozen=True)
class Decision:
    instruction: str
    status: DecisionStatus
    explanation: str
    completion: Completion | None = None  # None when the model was not asked

    @property
    def adheres(self) -> bool | None:
        return {DecisionStatus.ADHERES: True, DecisionStatus.DOES_NOT_ADHERE: False}.get(self.status)

    @property
    def action(self) -> str | None:
        """The deployed loop's message, or None when there is nothing to act on."""
        if self.status == DecisionStatus.ADHERES:
            return CONTINUE_BEHAVIOR
        if self.status == DecisionStatus.DOES_NOT_ADHERE:
            return f"{CHANGE_BEHAVIOR}: {self.instruction}"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"instruction": self.instruction, "status": self.status, "adheres": self.adheres,
                "action": self.action, "explanation": self.explanation,
                "completion": self.completion.as_dict() if self.completion else None}


class DecisionxR1:
    def __init__(self, backend: Backend, *, hints: Bm25Retriever | None = None, n_hints: int = RETRIEVAL_K,
                 use_grammar: bool = True, reasoning_chars: int = DECISION_REASONING_CHARS,
                 max_tokens: int = 160, temperature: float = 0.0, seed: int = 0, facts: bool = False) -> None:
        """`facts`: the prompt's state text with the facts lines (cases/facts.py), for an adapter trained on them."""
        self.backend = backend
        self.hints = hints if hints is not None else hint_retriever()
        self.n_hints = n_hints
        self.grammar = decision_grammar(reasoning_chars=reasoning_chars) if use_grammar else None
        # Verdict only, greedy: the most likely first token of the verdict decides it.
        self.verdict_only = use_grammar and reasoning_chars == ANSWER_ONLY and temperature == 0.0
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self.facts = facts

    @property
    def answer_tokens(self) -> int:
        """The most tokens an answer takes beside the prompt: a verdict read from the next-token
        probabilities takes the tokens of `<answer>` and one more (at most its characters),
        a generated answer max_tokens."""
        if self.verdict_only:
            return max(len(open_tag(ANSWER_TAG) + verdict + close_tag(ANSWER_TAG))
                       for verdict in (VERDICT_TRUE, VERDICT_FALSE))
        return self.max_tokens

    def messages(self, instruction: str, state: StateFeatures) -> list[dict[str, str]]:
        return decision_prompt(instruction, state, self.n_hints, self.hints, self.facts)

    def decide(self, instruction: str, state: StateFeatures | InsufficientData | None,
               stop: StopCheck | None = None) -> Decision:
        """`stop`: asked while the model answers; True ends the call (an instruction replaced
        meanwhile), and the decision is DecisionStatus.NO_VERDICT with finish_reason "cancelled"."""
        instruction = require_instruction(instruction)
        if state is None:
            return Decision(instruction, DecisionStatus.INSUFFICIENT_DATA, "no state window was given")
        if isinstance(state, StateFeatures):
            # Features built by hand are checked too; how many samples a window needs is the
            # feature extraction's setting, so only NaN and the absolute floor are checked here.
            state = state.insufficiency(MIN_JUDGEABLE_SAMPLES) or state
        if isinstance(state, InsufficientData):
            return Decision(instruction, DecisionStatus.INSUFFICIENT_DATA, state.reason)
        messages = self.messages(instruction, state)
        if self.verdict_only:
            completion = self.backend.choose(messages, open_tag(ANSWER_TAG), (VERDICT_TRUE, VERDICT_FALSE),
                                             close_tag(ANSWER_TAG), stop=stop)
        else:
            completion = self.backend.complete(messages, grammar=self.grammar, max_tokens=self.max_tokens,
                                               temperature=self.temperature, seed=self.seed, stop=stop)
        if completion.finish_reason == CANCELLED:
            return Decision(instruction, DecisionStatus.NO_VERDICT, "cancelled: the answer was no longer wanted",
                            completion)
        return decision_from_text(instruction, completion)


def decision_prompt(instruction: str, state: StateFeatures, n_hints: int = RETRIEVAL_K,
                    hints: Bm25Retriever | None = None, facts: bool = False) -> list[dict[str, str]]:
    """The prompt the car asks a decision with: the hints retrieved for the instruction (from the
    packaged ones by default), the instruction and the state (with its facts lines when `facts`)."""
    retriever = hint_retriever() if hints is None else hints
    return decision_messages(instruction, state, [passage.text for passage in retriever.search(instruction, n_hints)],
                             facts)


def decision_from_text(instruction: str, completion: Completion) -> Decision:
    """Turn a model answer into a Decision (pure; shared with the evaluator and the trainer)."""
    verdict = parse_decision(completion.text)
    if verdict.adheres is None:
        return Decision(instruction, DecisionStatus.NO_VERDICT, verdict.problem, completion)
    status = DecisionStatus.ADHERES if verdict.adheres else DecisionStatus.DOES_NOT_ADHERE
    return Decision(instruction, status, verdict.explanation, completion)
