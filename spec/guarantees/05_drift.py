"""Drift — every idiom of the note that behaves differently today, with the release it changed in.

Beyond the note: each drift row names the note's line it concerns; this checks the rows.

One table (``spec/helpers/drift.py``): each row names the note's line, the library and
release where it changed, and checks what a user sees on the *installed* release — the
old behaviour before that release, the new one from it on — so this chapter holds on
every supported release.
"""

import pytest
from packaging.version import Version

from spec.helpers.drift import DRIFT, installed

#: Facts about the libraries, release by release: no implementation is involved.
pytestmark = pytest.mark.fact


@pytest.mark.parametrize("drift", DRIFT, ids=[d.id for d in DRIFT])
def test_the_installed_release_shows_the_behaviour_its_version_predicts(drift, record_property):
    """Each drift row holds on the installed release: the new behaviour from `changed_in` on, the old one before.

    (The note as a whole, written in 2020 for torch ~1.5; each row's own line is
    checked against the note below.)
    """
    version = installed(drift.library)
    if version is None:
        pytest.skip(f"{drift.library} is not installed")
    # What was seen, for the upgrade report (spec/helpers/compare.py): which side of the
    # change this release is on, checked.
    record_property("release", f"{drift.library} {version}")
    if version >= Version(drift.changed_in):
        drift.check_new()
        record_property("observed", "new behaviour")
    elif drift.check_old is not None:
        drift.check_old()
        record_property("observed", "old behaviour")
    else:
        pytest.skip(
            f"{drift.library} {version} predates {drift.changed_in}; old behaviour not pinned"
        )


@pytest.mark.parametrize("drift", DRIFT, ids=[d.id for d in DRIFT])
def test_each_drift_row_quotes_the_note_and_names_a_release(drift):
    """Every row quotes a line that is in the note and names a parseable release."""
    from spec.helpers import note

    assert note.is_in_note(drift.note), drift.note
    Version(drift.changed_in)
    assert drift.now
