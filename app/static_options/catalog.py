"""Fixed catalogues this server supports: operating systems, variable targets, service
types and versions, language runtimes. The options endpoints and validators read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OsVersion:
    code: str
    name: str
    code_name: str
    version: str
    human_readable: str
    released_at: str
    end_standard_support_at: str
    end_of_life_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "code_name": self.code_name,
            "version": self.version,
            "os_version_code": self.code,
            "os_version_code_human_readable": self.human_readable,
            "released_at": self.released_at,
            "end_standard_support_at": self.end_standard_support_at,
            "end_of_life_at": self.end_of_life_at,
        }


OS_VERSIONS = {
    v.code: v
    for v in [
        OsVersion("centos_7", "7", "Core", "7", "CentOS 7", "2014-07-07", "2020-08-06",
                  "2024-06-30"),
        OsVersion("ubuntu_18_04", "18.04 LTS (Bionic Beaver)", "Bionic Beaver", "18.04",
                  "Ubuntu 18.04 LTS (Bionic Beaver)", "2018-04-26", "2023-05-31", "2028-04-30"),
        OsVersion("ubuntu_20_04", "20.04 LTS (Focal Fossa)", "Focal Fossa", "20.04",
                  "Ubuntu 20.04 LTS (Focal Fossa)", "2020-04-23", "2025-05-29", "2030-04-30"),
        OsVersion("ubuntu_22_04", "22.04 LTS (Jammy Jellyfish)", "Jammy Jellyfish", "22.04",
                  "Ubuntu 22.04 LTS (Jammy Jellyfish)", "2022-04-21", "2027-06-01",
                  "2032-04-30"),
        OsVersion("ubuntu_24_04", "24.04 LTS (Noble Numbat)", "Noble Numbat", "24.04",
                  "Ubuntu 24.04 LTS (Noble Numbat)", "2024-04-25", "2029-05-31", "2034-04-30"),
        OsVersion("ubuntu_26_04", "26.04 LTS (Resolute Raccoon)", "Resolute Raccoon", "26.04",
                  "Ubuntu 26.04 LTS (Resolute Raccoon)", "2026-04-23", "2031-05-31",
                  "2036-04-30"),
    ]
}

# name -> (human readable, hint)
VARIABLE_TARGETS: dict[str, tuple[str, str]] = {
    "my-cnf": ("MySQL my.cnf", "Settings written to the MySQL server configuration file"),
    "newrelic-infra-yml": ("New Relic newrelic-infra.yml", "New Relic agent configuration"),
    "nginx-http-server": ("Nginx server block", "Directives inside the virtual host block"),
    "nginx-http": ("Nginx http block", "Directives inside nginx's http block"),
    "nginx-main": ("Nginx main context", "Directives in nginx's main context"),
    "os-env-var": ("Operating system environment variable",
                   "Exported to the environment of the application's processes"),
    "php-cli_php-ini": ("PHP CLI php.ini", "php.ini settings for the PHP command line"),
    "php-fpm_php-fpm-conf": ("PHP-FPM php-fpm.conf", "Global PHP-FPM settings"),
    "php-fpm_php-ini": ("PHP-FPM php.ini", "php.ini settings for PHP-FPM"),
    "php-fpm_pool-d-www-conf": ("PHP-FPM pool www.conf", "Settings of the www pool"),
    "redis-conf": ("Redis redis.conf", "Redis server configuration"),
    "resource-config-file": ("Configuration file",
                             "A file written relative to the resource's directory"),
    "resource-symlink": ("Symbolic link", "A link from `key` to the path in `value`"),
    "supervisord-conf": ("Supervisor supervisord.conf", "Supervisor configuration"),
    "sysctl-conf": ("sysctl.conf", "Kernel parameters"),
}

# Which targets each resource type accepts: a target is written by that resource's steps.
RESOURCE_VARIABLE_TARGETS: dict[str, list[str]] = {
    "application": ["os-env-var", "resource-config-file", "resource-symlink"],
    "server": ["os-env-var", "sysctl-conf"],
    "virtual-host": ["nginx-http-server"],
    "service": [
        "my-cnf", "newrelic-infra-yml", "nginx-http", "nginx-main", "php-cli_php-ini",
        "php-fpm_php-fpm-conf", "php-fpm_php-ini", "php-fpm_pool-d-www-conf", "redis-conf",
        "supervisord-conf",
    ],
}

# type -> (human readable, hint, supported versions, variable targets)
SERVICE_TYPES: dict[str, tuple[str, str, list[str], list[str]]] = {
    "docker": ("Docker", "Container runtime", ["latest"], []),
    "mysql": ("MySQL", "Relational database", ["5.7", "8.0", "8.4"], ["my-cnf"]),
    "newrelic-infra": ("New Relic Infrastructure", "Monitoring agent", ["latest"],
                       ["newrelic-infra-yml"]),
    "nginx": ("Nginx", "Web server and reverse proxy", ["latest"],
              ["nginx-http", "nginx-main"]),
    "php": ("PHP", "PHP runtime with PHP-FPM", ["7.4", "8.1", "8.2", "8.3", "8.4"],
            ["php-cli_php-ini", "php-fpm_php-fpm-conf", "php-fpm_php-ini",
             "php-fpm_pool-d-www-conf"]),
    "postgresql": ("PostgreSQL", "Relational database", ["14", "15", "16", "17"], []),
    "redis": ("Redis", "In-memory data store", ["6", "7"], ["redis-conf"]),
    "supervisor": ("Supervisor", "Process control system that runs daemons", ["latest"],
                   ["supervisord-conf"]),
    "ufw": ("UFW", "Firewall that applies network rules", ["latest"], []),
}

# language -> (human readable, engine versions, {framework: human readable})
LANGUAGE_RUNTIMES: dict[str, tuple[str, list[str], dict[str, str]]] = {
    "html": ("HTML", ["none"], {"none": "None"}),
    "nodejs": ("Node.js", ["18", "20", "22", "24"],
               {"none": "None", "express": "Express", "nestjs": "NestJS", "nextjs": "Next.js",
                "react": "React", "vue": "Vue.js", "html": "HTML"}),
    "php": ("PHP", ["7.4", "8.1", "8.2", "8.3", "8.4"],
            {"none": "None", "laravel": "Laravel", "symfony": "Symfony",
             "wordpress": "WordPress"}),
    "python": ("Python", ["3.10", "3.11", "3.12", "3.13"],
               {"none": "None", "django": "Django", "fastapi": "FastAPI", "flask": "Flask"}),
    "ruby": ("Ruby", ["3.2", "3.3"], {"none": "None", "rails": "Ruby on Rails"}),
    "go": ("Go", ["1.22", "1.23"], {"none": "None"}),
    "java": ("Java", ["17", "21"], {"none": "None", "spring": "Spring"}),
    "docker": ("Docker", ["latest"], {"none": "None"}),
}


def human(value: str, catalogue: dict[str, Any]) -> str:
    entry = catalogue.get(value)
    if entry is None:
        return value
    return str(entry[0])
