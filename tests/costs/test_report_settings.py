"""Mail settings as DCP reads them from the environment: where cost reports go, and refused combinations."""

from tests.test_deploy_files import error_line, run_settings

PRINT = "from django.conf import settings; print(settings.EMAIL_BACKEND, settings.EMAIL_FILE_PATH, settings.EMAIL_PORT)"


def test_embedded_default_writes_mail_to_files_under_the_data_dir(tmp_path):
    """No EMAIL_HOST: each message is a file under $DCP_DATA_DIR/mail, where the demo says to look."""
    result = run_settings(tmp_path, {}, PRINT)
    assert result.returncode == 0, result.stderr
    backend, path, _ = result.stdout.split()
    assert backend == "django.core.mail.backends.filebased.EmailBackend" and path == str(tmp_path / "data" / "mail")


def test_an_smtp_host_sends_over_smtp(tmp_path):
    """EMAIL_HOST and EMAIL_PORT given: SMTP on that port."""
    result = run_settings(tmp_path, {"EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": "587"}, PRINT)
    assert result.returncode == 0, result.stderr
    backend, _, port = result.stdout.split()
    assert (backend, port) == ("django.core.mail.backends.smtp.EmailBackend", "587")


def test_tls_and_ssl_together_stop_the_start(tmp_path):
    """EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: the start fails and says so."""
    result = run_settings(tmp_path, {"EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"})
    assert result.returncode != 0
    assert "EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive" in error_line(result.stderr)


def test_a_bad_port_names_the_variable(tmp_path):
    """EMAIL_PORT must be a number."""
    result = run_settings(tmp_path, {"EMAIL_PORT": "smtp"})
    assert result.returncode != 0 and "EMAIL_PORT" in error_line(result.stderr)
