"""Energy and nutrients of dishes and menus from recipes and the food composition table.

Arithmetic in Decimal: grams × value per 100 g / 100, summed; salt is sodium × 2.54 (NaCl/Na mass
ratio 58.44/23.0). Values are per portion (one student's serving)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

SALT_PER_SODIUM = Decimal("2.54")
NUTRIENTS = ("energy_kcal", "protein_g", "fat_g", "carbohydrate_g", "fiber_g", "sodium_mg", "calcium_mg", "iron_mg")


@dataclass
class Totals:
    energy_kcal: Decimal = Decimal(0)
    protein_g: Decimal = Decimal(0)
    fat_g: Decimal = Decimal(0)
    carbohydrate_g: Decimal = Decimal(0)
    fiber_g: Decimal = Decimal(0)
    sodium_mg: Decimal = Decimal(0)
    calcium_mg: Decimal = Decimal(0)
    iron_mg: Decimal = Decimal(0)
    groups: dict[str, Decimal] = field(default_factory=dict)  # food group → grams

    @property
    def salt_g(self) -> Decimal:
        return self.sodium_mg * SALT_PER_SODIUM / 1000

    def add_ingredient(self, ingredient, grams: Decimal | int | str) -> None:
        grams = Decimal(str(grams))
        for name in NUTRIENTS:
            setattr(self, name, getattr(self, name) + grams * Decimal(getattr(ingredient, name)) / 100)
        group = ingredient.food_group
        self.groups[group] = self.groups.get(group, Decimal(0)) + grams

    def __add__(self, other: Totals) -> Totals:
        result = Totals()
        for name in NUTRIENTS:
            setattr(result, name, getattr(self, name) + getattr(other, name))
        for source in (self.groups, other.groups):
            for group, grams in source.items():
                result.groups[group] = result.groups.get(group, Decimal(0)) + grams
        return result

    def scaled(self, factor: Decimal | int) -> Totals:
        result = Totals()
        for name in NUTRIENTS:
            setattr(result, name, getattr(self, name) * factor)
        result.groups = {g: v * factor for g, v in self.groups.items()}
        return result

    def energy_pct(self, nutrient: str) -> Decimal:
        """Share of energy (%) from fat (9 kcal/g) or carbohydrate/protein (4 kcal/g)."""
        if not self.energy_kcal:
            return Decimal(0)
        per_g = 9 if nutrient == "fat_g" else 4
        return getattr(self, nutrient) * per_g * 100 / self.energy_kcal

    def as_dict(self, places: str = "0.1") -> dict:
        q = Decimal(places)
        data = {name: getattr(self, name).quantize(q) for name in NUTRIENTS}
        data["salt_g"] = self.salt_g.quantize(Decimal("0.01"))
        data["fat_pct"] = self.energy_pct("fat_g").quantize(q)
        data["carb_pct"] = self.energy_pct("carbohydrate_g").quantize(q)
        data["protein_pct"] = self.energy_pct("protein_g").quantize(q)
        data["groups"] = {g: v.quantize(q) for g, v in sorted(self.groups.items())}
        return data


def totals_of(lines: Iterable[tuple[object, Decimal | int | str]]) -> Totals:
    """Totals of (ingredient, grams) pairs; an ingredient needs the NUTRIENTS and food_group."""
    totals = Totals()
    for ingredient, grams in lines:
        totals.add_ingredient(ingredient, grams)
    return totals


def dish_totals(dish) -> Totals:
    """One portion of a dish (uses dish.lines; prefetch lines__ingredient for many dishes)."""
    return totals_of((line.ingredient, line.grams) for line in dish.lines.all())
