"""The shared progress bar: silent when disabled, one line per call in a log, fields as columns."""
from archlab.progress import ProgressBar


def test_a_disabled_bar_does_nothing(capsys):
    with ProgressBar(False, "work", 3) as bar:
        bar.update(advance=1, description="x")
        bar.line("never shown")
    assert not bar.enabled and capsys.readouterr().err == ""


def test_in_a_log_the_bar_is_silent_and_lines_are_printed(capsys):
    with ProgressBar(True, "work", 3, fields={"loss": "-"}, eta=True) as bar:
        bar.update(advance=1, loss="0.5")
        bar.line("step 1/3, loss 0.5")
    err = capsys.readouterr().err
    assert bar.plain and err == "step 1/3, loss 0.5\n"
    assert bar.bar.tasks[0].completed == 1 and bar.bar.tasks[0].fields["loss"] == "0.5"
