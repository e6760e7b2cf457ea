"""Default install and build commands per stack (language, framework).

`/static/application-options` shows them in each framework's `defaults`, and a deploy runs
them when the application's `install_dependencies_command` or `build_command` is empty
(the build step logs them as e.g. "install dependencies (Laravel default)"). Each is one
line of shell, run with bash in the release's root directory with the application's
variables and runtime on `PATH`; each does nothing (and says so) when the files its
ecosystem needs are absent, and stops at the first command that fails (`set -e`).

To skip a step a default would run, set the command to `true`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StackCommands:
    install: str | None = None
    build: str | None = None
    # Other commands users of the stack commonly pick (the reference's `commands`).
    install_options: tuple[str, ...] = field(default=())
    build_options: tuple[str, ...] = field(default=())


def _sh(*parts: str) -> str:
    return "; ".join(("set -e", *parts))


def _yarn() -> str:
    return "$(command -v yarn || echo corepack yarn)"


def _pnpm() -> str:
    return "$(command -v pnpm || echo corepack pnpm)"


# Node.js: the lockfile names the package manager. When package.json has a build script,
# devDependencies are installed too (a build needs them even with NODE_ENV=production).
_NODE_HAS_BUILD = (
    "node -e 'process.exit(((require(\"./package.json\").scripts)||{}).build?0:1)'"
)
NODE_INSTALL = _sh(
    'if [ ! -f package.json ]; then echo "no package.json: nothing to install"; exit 0; fi',
    f"dev=; if {_NODE_HAS_BUILD}; then dev=1; fi",
    "if [ -f package-lock.json ] || [ -f npm-shrinkwrap.json ]; then "
    "npm ci ${dev:+--include=dev}; "
    f"elif [ -f yarn.lock ]; then "
    f"{_yarn()} install --frozen-lockfile ${{dev:+--production=false}}; "
    f"elif [ -f pnpm-lock.yaml ]; then "
    f"{_pnpm()} install --frozen-lockfile ${{dev:+--prod=false}}; "
    "else npm install ${dev:+--include=dev}; fi",
)
NODE_BUILD = _sh(
    f'if [ ! -f package.json ] || ! {_NODE_HAS_BUILD}; then '
    'echo "package.json has no build script: nothing to build"; exit 0; fi',
    f"if [ -f yarn.lock ]; then {_yarn()} run build; "
    f"elif [ -f pnpm-lock.yaml ]; then {_pnpm()} run build; else npm run build; fi",
)
_NODE = StackCommands(
    NODE_INSTALL, NODE_BUILD,
    install_options=("npm ci", "npm install", "npm ci --omit=dev",
                     "yarn install --frozen-lockfile", "pnpm install --frozen-lockfile"),
    build_options=("npm run build", "yarn build", "pnpm run build"),
)

_COMPOSER = (
    'if [ ! -f composer.json ]; then echo "no composer.json: nothing to install"; exit 0; fi',
    "composer install --no-dev --optimize-autoloader --no-interaction --prefer-dist",
)
LARAVEL_BUILD = _sh(
    'if [ ! -f artisan ]; then echo "no artisan: nothing to build"; exit 0; fi',
    "php artisan migrate --force", "php artisan config:cache", "php artisan route:cache",
    "php artisan view:cache",
)
SYMFONY_BUILD = _sh(
    'if [ ! -f bin/console ]; then echo "no bin/console: nothing to build"; exit 0; fi',
    'export APP_ENV="${APP_ENV:-prod}"',
    "if php bin/console list doctrine:migrations >/dev/null 2>&1; then "
    "php bin/console doctrine:migrations:migrate --no-interaction --allow-no-migration; fi",
    "php bin/console cache:clear", "php bin/console cache:warmup",
)

# Python: a virtual environment in the release (`.venv`, first on PATH for the
# application's daemons and cron jobs), filled from requirements.txt or pyproject.toml.
PYTHON_INSTALL = _sh(
    "if [ ! -f requirements.txt ] && [ ! -f pyproject.toml ]; then "
    'echo "no requirements.txt or pyproject.toml: nothing to install"; exit 0; fi',
    "python3 -m venv .venv",
    "if [ -f requirements.txt ]; then .venv/bin/python -m pip install -r requirements.txt; "
    "else .venv/bin/python -m pip install .; fi",
)
DJANGO_BUILD = _sh(
    'if [ ! -f manage.py ]; then echo "no manage.py: nothing to build"; exit 0; fi',
    "py=python3; if [ -x .venv/bin/python ]; then py=.venv/bin/python; fi",
    '"$py" manage.py migrate --noinput', '"$py" manage.py collectstatic --noinput',
)
_PYTHON = StackCommands(
    PYTHON_INSTALL, None,
    install_options=("pip install -r requirements.txt", "poetry install --only main"),
)

RAILS_INSTALL = _sh(
    'if [ ! -f Gemfile ]; then echo "no Gemfile: nothing to install"; exit 0; fi',
    "bundle config set --local deployment true",
    "bundle config set --local without 'development test'", "bundle install",
)
RAILS_BUILD = _sh(
    'if [ ! -f Rakefile ]; then echo "no Rakefile: nothing to build"; exit 0; fi',
    'export RAILS_ENV="${RAILS_ENV:-production}"', "bundle exec rake db:migrate",
    "if bundle exec rake -T assets:precompile 2>/dev/null | grep assets:precompile >/dev/null; "
    "then bundle exec rake assets:precompile; fi",
)

GO_INSTALL = _sh(
    'if [ ! -f go.mod ]; then echo "no go.mod: nothing to install"; exit 0; fi',
    "go mod download",
)
GO_BUILD = _sh(
    'if [ ! -f go.mod ]; then echo "no go.mod: nothing to build"; exit 0; fi',
    "go build -o bin/ ./...",
)

JAVA_BUILD = _sh(
    "if [ -f mvnw ]; then sh ./mvnw -B package -DskipTests; "
    "elif [ -f gradlew ]; then sh ./gradlew build -x test; "
    "elif [ -f pom.xml ]; then mvn -B package -DskipTests; "
    "elif [ -f build.gradle ] || [ -f build.gradle.kts ]; then gradle build -x test; "
    'else echo "no Maven or Gradle build: nothing to build"; fi',
)

_PHP_INSTALL = _sh(*_COMPOSER)

# (language, framework) -> commands; "none" frameworks get their language's plain defaults.
FRAMEWORK_COMMANDS: dict[tuple[str, str], StackCommands] = {
    **{("nodejs", f): _NODE
       for f in ("none", "express", "nestjs", "nextjs", "react", "vue", "html")},
    ("php", "none"): StackCommands(_PHP_INSTALL, None,
                                   install_options=("composer install --no-dev",)),
    ("php", "laravel"): StackCommands(
        _PHP_INSTALL, LARAVEL_BUILD, install_options=("composer install --no-dev",),
        build_options=("php artisan migrate --force",)),
    ("php", "symfony"): StackCommands(
        _sh('export APP_ENV="${APP_ENV:-prod}"', *_COMPOSER), SYMFONY_BUILD,
        install_options=("composer install --no-dev",)),
    ("php", "wordpress"): StackCommands(),
    ("python", "none"): _PYTHON,
    ("python", "django"): StackCommands(
        PYTHON_INSTALL, DJANGO_BUILD, install_options=_PYTHON.install_options,
        build_options=("python manage.py migrate --noinput",)),
    ("python", "fastapi"): _PYTHON,
    ("python", "flask"): _PYTHON,
    ("ruby", "none"): StackCommands(RAILS_INSTALL, None, install_options=("bundle install",)),
    ("ruby", "rails"): StackCommands(RAILS_INSTALL, RAILS_BUILD,
                                     install_options=("bundle install",),
                                     build_options=("bundle exec rake assets:precompile",)),
    ("go", "none"): StackCommands(GO_INSTALL, GO_BUILD, build_options=("go build ./...",)),
    ("java", "none"): StackCommands(None, JAVA_BUILD),
    ("java", "spring"): StackCommands(
        None, JAVA_BUILD,
        build_options=("./mvnw -B package -DskipTests", "./gradlew build -x test")),
}

# Names of the stacks as logged ("install dependencies (Laravel default)").
_LANGUAGE_LABELS = {"nodejs": "Node.js", "php": "PHP", "python": "Python", "ruby": "Ruby",
                    "go": "Go", "java": "Java", "html": "HTML", "docker": "Docker"}


def commands_for(language: str, framework: str) -> StackCommands:
    return FRAMEWORK_COMMANDS.get((language, framework)) or FRAMEWORK_COMMANDS.get(
        (language, "none"), StackCommands())


def label_for(language: str, framework: str, framework_label: str | None) -> str:
    """"Laravel", or the language's name for its plain stack ("Node.js")."""
    if framework in ("none", "") or framework_label is None or (
        language == "nodejs" and framework == "html"
    ):
        return _LANGUAGE_LABELS.get(language, language)
    return framework_label
