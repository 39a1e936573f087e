"""An allow-list contract: the modules it names may import only the standard library and the listed packages.

import-linter's `forbidden` contract is a ban list: a new driver added to the project would pass it
until someone remembered to ban it. This contract states what the domain core may use instead, so
anything new fails until it is allowed on purpose.
"""

import sys

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class AllowedExternalsContract(Contract):
    """Source modules (and their descendants) import nothing outside the root packages but the
    standard library and `allowed_externals`.

    Configuration options:
        - source_modules: the modules held to the list (packages include their descendants).
        - allowed_externals: top-level names of the third-party packages they may import.
    """

    type_name = "allowed_externals"

    source_modules = fields.ListField(subfield=fields.ModuleField())
    allowed_externals = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        allowed = set(sys.stdlib_module_names) | {str(name) for name in self.allowed_externals}  # type: ignore[attr-defined]
        sources: set[str] = set()
        for module in self.source_modules:  # type: ignore[attr-defined]
            sources |= {module.name, *graph.find_descendants(module.name)}
        illegal = []
        for importer in sorted(sources):
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                top = imported.split(".")[0]
                if graph.is_module_squashed(imported) and top not in allowed:
                    lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                    illegal.append((importer, imported, lines))
        return ContractCheck(kept=not illegal, metadata={"illegal": illegal})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, lines in check.metadata["illegal"]:
            output.print_error(f"- {importer} -> {imported} (l.{', '.join(map(str, lines))})", bold=False)
        output.new_line()
