"""``python -m services.intake`` serves the intake API and its Kafka consumer."""

from services.intake.settings import IntakeSettings
from shared.service import run

if __name__ == "__main__":
    run("services.intake.app:create", IntakeSettings())
