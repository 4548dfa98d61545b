from services.notify.settings import NotifySettings
from shared.service import run

if __name__ == "__main__":
    run("services.notify.app:create", NotifySettings())
