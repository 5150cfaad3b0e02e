"""``label-studio connect|predict``: what to paste into Label Studio, and predictions to
import into it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from labelloop.cli.common import DbOption, app, reports_errors, say, using_database
from labelloop.exceptions import ValidationError

__all__ = ["label_studio_app"]

label_studio_app = typer.Typer(
    help="Label Studio: connect labelloop as its ML backend, or predict its tasks.",
    no_args_is_help=True,
)
app.add_typer(label_studio_app, name="label-studio")

ProjectArg = Annotated[str, typer.Argument(help="The labelloop project (id or name).")]


@label_studio_app.command("connect")
@reports_errors
def connect(
    project: ProjectArg,
    server: Annotated[
        str,
        typer.Option(
            "--server", help="labelloop's address as Label Studio reaches it (labelloop serve)."
        ),
    ] = "http://127.0.0.1:8000",
    as_json: Annotated[
        bool, typer.Option("--json", help="The settings as one JSON object.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Print the settings of Label Studio's model connection for PROJECT.

    Label Studio: Settings -> Model -> Connect model; paste the backend URL, choose Basic
    Authentication with any user name and a token of a model account as the password.
    """
    from labelloop.engine import label_studio, projects

    if not server.startswith(("http://", "https://")):
        raise ValidationError(f"--server must be an http(s) URL, got {server!r}", field="server")
    with using_database(db) as database:
        info = projects.get_project_info(database, project)
        config = label_studio.project_label_config(database, info.id)
        version = label_studio.model_version_name(
            label_studio.latest_model_version(database, info.id)
        )
    url = f"{server.rstrip('/')}/label-studio/{info.id}"
    settings = {
        "url": url,
        "auth_method": "BASIC_AUTH",
        "basic_auth_user": "labelloop",
        "basic_auth_pass": "<an API token of a model account that is a member of the project>",
        "model_version": version,
        "webhook": {
            "url": f"{url}/webhook",
            "headers": {"Authorization": "Token <the same API token>"},
        },
        "label_config": config,
    }
    if as_json:
        typer.echo(json.dumps(settings))
        return
    say(
        f"Label Studio -> project Settings -> Model -> Connect model, for labelloop project "
        f"{info.name!r}:"
    )
    typer.echo(f"  Backend URL:        {url}")
    typer.echo("  Authentication:     Basic Authentication")
    typer.echo("  Basic auth user:    any name (labelloop reads the password only)")
    typer.echo(
        "  Basic auth pass:    an API token of a model account, e.g. "
        f"`labelloop user create label-studio --role model --project {info.name}`"
    )
    typer.echo(
        f"  Webhook:            Label Studio adds a webhook to {url}/webhook without "
        "credentials: in project Settings -> Webhooks give it the header Authorization: "
        "Token <the same token> (annotations reach labelloop through it)"
    )
    typer.echo(
        "  Training:           'Start Training' (or 'Start model training on annotation "
        "submission') sends START_TRAINING, which queues a retrain"
    )
    typer.echo(f"  Model version now:  {version}")
    typer.echo(
        "  Data manager:       show the 'Prediction score' column and sort it descending: "
        "higher is more informative"
    )
    typer.echo("A label config that fits the project (Settings -> Labeling Interface -> Code):")
    typer.echo(config)


@label_studio_app.command("predict")
@reports_errors
def predict(
    project: ProjectArg,
    tasks: Annotated[Path, typer.Argument(help="Label Studio tasks: a JSON list.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the tasks with predictions.")
    ],
    label_config: Annotated[
        Path | None,
        typer.Option(
            "--label-config",
            help="The Label Studio project's label config (XML); default the one `connect` prints.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Add labelloop's prediction to each task of a Label Studio import file.

    The output is TASKS with a predictions list on each task, ready for Label
    Studio's import (its pre-annotations), scores included.
    """
    from labelloop.engine.workspace import Workspace

    try:
        records = json.loads(tasks.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{tasks}: not a JSON file of tasks: {exc}", field="tasks") from None
    if not isinstance(records, list):
        raise ValidationError(f"{tasks}: the file must hold a JSON list of tasks", field="tasks")
    # Label Studio also imports bare data objects; they become {"data": ...} tasks here.
    records = [r if isinstance(r, dict) and "data" in r else {"data": r} for r in records]
    config = label_config.read_text(encoding="utf-8") if label_config else None
    with using_database(db) as database, Workspace(database.url) as workspace:
        handle = workspace.project(project)
        predictions = handle.label_studio_predict(records, label_config=config)
    for record, prediction in zip(records, predictions, strict=True):
        record["predictions"] = [prediction]
    output.write_text(json.dumps(records), encoding="utf-8")
    say(f"wrote {len(records)} tasks with predictions to {output}")
