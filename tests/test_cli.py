from typer.testing import CliRunner

from axhub import __version__
from axhub.cli.main import app
from axhub.config import Settings
from axhub.errors import AxhubError, InputError


def test_version_command_prints_version() -> None:
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_settings_read_env_prefix(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AXHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AXHUB_SECRET_KEY", "s3cret")
    s = Settings()
    assert s.data_dir == tmp_path
    public = s.public_dict()
    assert "secret_key" not in public
    assert "s3cret" not in repr(public)


def test_input_error_names_the_place() -> None:
    err = InputError("bad line", path="a.ndjson", line=7, field="subject.reference")
    assert isinstance(err, AxhubError)
    text = str(err)
    assert "a.ndjson" in text and "line=7" in text and "subject.reference" in text
    assert err.to_dict()["line"] == 7
