"""Tests of pinnlite.training.config_docs: every config field has its reference comment, and
the commented TOML of ``pinnlite config --defaults`` reads back to the same config."""

import dataclasses

from pinnlite.training.config import Config
from pinnlite.training.config_docs import comments, commented_toml, field_comments
from pinnlite.training.config_sections import CheckpointConfig, TrainingConfig


def sections():
    return {f.name: f.metadata["section"] for f in dataclasses.fields(Config) if "section" in f.metadata}


def test_every_field_of_every_section_has_a_comment():
    notes = comments()
    assert set(notes) == {""} | set(sections())
    for name, cls in sections().items():
        fields = {f.name for f in dataclasses.fields(cls)}
        assert set(notes[name]) == fields | {""}, name
        assert all(notes[name][f].strip() for f in fields), name
        assert notes[name][""], name  # the section's own comment
    assert notes[""]["name"].startswith("Name of the run")


def test_comments_are_the_source_lines_above_each_field():
    c = field_comments(TrainingConfig)
    assert c["epochs"] == "Number of epochs (passes over the collocation points); integer >= 0."
    assert c["patience"].splitlines() == [
        "Early stopping: stop after this many epochs without a new best (see monitor);",
        "None: never; else an integer >= 1.",
    ]
    assert field_comments(CheckpointConfig)["keep_last"] == "Number of most recent checkpoints kept on disk; integer >= 1."


def test_commented_defaults_read_back_to_the_defaults():
    text = commented_toml()
    assert Config.from_toml(text) == Config()
    lines = text.splitlines()
    # each value line has its comment right above it
    i = lines.index("epochs = 10000")
    assert lines[i - 1] == "# Number of epochs (passes over the collocation points); integer >= 0."
    i = lines.index("keep_last = 3")
    assert lines[i - 1] == "# Number of most recent checkpoints kept on disk; integer >= 1."
    # None defaults are shown commented out, after their comment
    i = lines.index("# batch_size = None")
    assert lines[i - 1] == "# Collocation points per step; None: full batch; else an integer >= 1."
    assert lines.index("[units]") > lines.index("[checkpoint]")
    assert all(line.startswith("#") or line == "" or "=" in line or line.startswith("[") for line in lines)


def test_a_changed_config_reads_back_too():
    cfg = Config().replace(**{"training.patience": 40, "units.length": "mm", "optimizer.lr": 0.1 + 0.2})
    text = commented_toml(cfg)
    assert Config.from_toml(text) == cfg
    assert "patience = 40" in text.splitlines() and 'length = "mm"' in text.splitlines()
