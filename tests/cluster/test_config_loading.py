from __future__ import annotations

import pytest

from cluster.config import ConfigError, load_config


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("MAILRAY_"):
            monkeypatch.delenv(name)


def test_defaults_have_the_demo_user_and_a_local_root():
    config = load_config()
    assert config.users[0].addresses == ("test@example.com",)
    assert "://" not in config.storage.root


def test_environment_sets_fields_of_sections(monkeypatch):
    monkeypatch.setenv("MAILRAY_STORAGE_ROOT", "s3://bucket/prefix")
    monkeypatch.setenv("MAILRAY_SMTP_PORT", "2600")
    monkeypatch.setenv("MAILRAY_IMAP_PORT", "2601")
    monkeypatch.setenv("MAILRAY_HTTP_PORT", "2602")
    monkeypatch.setenv("MAILRAY_CLASSIFIER_MAX_BATCH_SIZE", "7")
    config = load_config()
    assert config.storage.root == "s3://bucket/prefix"
    assert (config.smtp.port, config.imap.port, config.http.port) == (
        2600,
        2601,
        2602,
    )
    assert config.classifier.max_batch_size == 7


def test_environment_wins_over_the_file(tmp_path, monkeypatch):
    path = tmp_path / "mailray.toml"
    path.write_text(
        '[smtp]\nport = 2700\nhostname = "mx.example.org"\n[imap]\nport = 2701\n'
    )
    monkeypatch.setenv("MAILRAY_SMTP_PORT", "2800")
    config = load_config(path)
    assert config.smtp.port == 2800
    assert config.smtp.hostname == "mx.example.org"
    assert config.imap.port == 2701


def test_overrides_win_over_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILRAY_SMTP_PORT", "2800")
    config = load_config(smtp={"port": 2900})
    assert config.smtp.port == 2900


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[smtp]\nport = 70000\n", "smtp.port"),
        ("[smtp]\nport = 2000\n[imap]\nport = 2000\n", "ports must differ"),
        ("[smtp]\nbogus = 1\n", "bogus"),
        ('[storage]\nroot = "x"\n[nope]\na = 1\n', "nope"),
        (
            '[[users]]\nname = "a"\npassword = "p"\naddresses = ["a@else.org"]\n',
            "outside smtp.domains",
        ),
        ("[classifier]\nmin_replicas = 3\nmax_replicas = 2\n", "min_replicas"),
        ("not toml [", "cannot read config file"),
    ],
)
def test_invalid_configuration_names_the_problem(tmp_path, text, needle):
    path = tmp_path / "mailray.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_config(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.toml")


def test_passwords_and_s3_secrets_are_not_in_repr(monkeypatch):
    monkeypatch.setenv("MAILRAY_STORAGE_S3_SECRET_ACCESS_KEY", "hunter2")
    config = load_config()
    assert "hunter2" not in repr(config)
    assert "'test'" not in repr(config.users)
