"""The car's grammars as a transformers logits processor (xgrammar), on the bundled model's
tokenizer: only grammar-legal tokens keep a finite logit, forced tokens are flagged, a token
outside the grammar is an error. (Samples of the real model: test_training_real_model.py.)"""
import pytest
import torch
import xgrammar as xgr

from robotxr1_ros.llm.grammar import decision_grammar, mpc_grammar
from robotxr1_ros.training.grammar_constraint import GrammarCompiler
from robotxr1_ros.training.model_io import float_base_dir, load_tokenizer


@pytest.fixture(scope="module")
def base_dir():
    return float_base_dir()


@pytest.fixture(scope="module")
def tokenizer(base_dir):
    return load_tokenizer(base_dir)


@pytest.fixture(scope="module")
def compiler(tokenizer):
    return GrammarCompiler(tokenizer, len(tokenizer))


def _legal(matcher, token):
    """Whether the grammar accepts `token` next (probed on the matcher, then rolled back)."""
    accepted = matcher.accept_token(token)
    if accepted:
        matcher.rollback(1)
    return accepted


def test_only_grammar_legal_tokens_keep_a_finite_logit(compiler, tokenizer):
    grammar = mpc_grammar()
    processor = compiler.processor(grammar)
    prefix = tokenizer("<reasoning>lower v_max</reasoning>\n<answer>new_mpc_params = {'v",
                       add_special_tokens=False)["input_ids"]
    generator = torch.Generator().manual_seed(0)
    ids = torch.tensor([[0]])
    probe = xgr.GrammarMatcher(compiler.compile(grammar))
    for step, token in enumerate([None, *prefix]):
        if token is not None:
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
            assert probe.accept_token(token)
        scores = processor(ids, torch.randn(1, compiler.vocab_size, generator=generator))
        finite = torch.isfinite(scores[0]).nonzero().flatten().tolist()
        assert finite, f"step {step}: nothing allowed"
        assert all(_legal(probe, t) for t in finite)
        sampled = torch.randperm(compiler.vocab_size, generator=generator)[:300].tolist()
        forbidden = [t for t in sampled if t not in finite]
        assert not any(_legal(probe, t) for t in forbidden)
    # After "{'v" only v_min / v_max continue, and the processor flagged the forced steps.
    assert processor.forced_mask(len(prefix) + 1).shape == (1, len(prefix) + 1)
    assert processor.forced_mask(len(prefix) + 1).any()


def test_rows_of_a_batch_are_constrained_independently(compiler, tokenizer):
    processor = compiler.processor(decision_grammar())
    first = tokenizer("<reasoning>", add_special_tokens=False)["input_ids"][0]
    ids = torch.zeros(2, 1, dtype=torch.long)
    processor(ids, torch.zeros(2, compiler.vocab_size))
    scores = processor(torch.tensor([[0, first], [0, first]]), torch.zeros(2, compiler.vocab_size))
    assert torch.equal(torch.isfinite(scores[0]), torch.isfinite(scores[1]))
    assert 1 < int(torch.isfinite(scores[0]).sum()) < compiler.vocab_size


def test_a_sampled_token_outside_the_grammar_is_an_error(compiler):
    processor = compiler.processor(decision_grammar())
    processor(torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, compiler.vocab_size))
    with pytest.raises(RuntimeError, match="breaks the grammar"):
        processor(torch.tensor([[0, 0]]), torch.zeros(1, compiler.vocab_size))


def test_the_mpc_grammar_admits_the_defaults_entry_only_first(compiler, tokenizer):
    grammar = compiler.compile(mpc_grammar(reasoning_chars=0))

    def accepts(text):
        matcher = xgr.GrammarMatcher(grammar)
        tokens = [*tokenizer.encode(text), tokenizer.eos_token_id]  # the grammar ends: the stop token is legal
        return all(matcher.accept_token(token) for token in tokens) and matcher.is_terminated()

    assert accepts("<answer>new_mpc_params = {**defaults}</answer>")
    assert accepts("<answer>new_mpc_params = {**defaults, 'v_max': 3.0}</answer>")
    assert not accepts("<answer>new_mpc_params = {'v_max': 3.0, **defaults}</answer>")
    assert not accepts("<answer>new_mpc_params = {**defaults, **defaults}</answer>")
