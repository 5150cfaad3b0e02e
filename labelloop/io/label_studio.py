"""Label Studio's label config: the XML that says which controls a project's results use.

A Label Studio prediction or annotation is a list of results, each naming the control tag
it fills (``from_name``), the object tag it labels (``to_name``) and the control's type
(``type``, the tag name in lower case). This module reads a label config with the standard
library's XML parser and keeps what labelloop can fill.

Rules
-----
1. Supported control tags: ``<Choices>`` only, with ``choice="single"`` (the default,
   also ``single-radio``) or ``choice="multiple"``; its values are the ``value`` attributes
   of its ``<Choice>`` children (an ``alias`` is what results carry when set). Every other
   control tag (``Labels``, ``RectangleLabels``, ``TextArea``, ``Rating``, ``Taxonomy``,
   ...) is listed in `LabelConfig.unsupported` and never filled by a classification
   project.
5. Region controls (`RegionControl`): ``<Labels>`` (entity spans over a ``<Text>``,
   result type ``labels``) and ``<RectangleLabels>`` (boxes on an ``<Image>``, result
   type ``rectanglelabels``) are kept in `LabelConfig.regions`, with their ``<Label>``
   values and the tag of the object they point at, for entity and box projects.
2. Object tags are the tags with a ``name`` and a ``value`` starting with ``$`` (``Text``,
   ``Image``, ``HyperText``, ...); ``value="$text"`` names the task data field ``text``.
3. A control's ``toName`` must name an object tag of the config; a config that is not
   XML, has no ``<View>`` root, or breaks rule 3 is refused with `ValidationError`
   (field ``label_config``).
4. `label_config_for` writes the config of a labelloop project (one text object and one
   Choices control), for asking a Label Studio ML backend in pull mode.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from labelloop.exceptions import ValidationError

__all__ = [
    "ChoicesControl",
    "LabelConfig",
    "RegionControl",
    "box_label_config_for",
    "label_config_for",
    "parse_label_config",
    "span_label_config_for",
]

_FIELD = "label_config"
_SINGLE = ("single", "single-radio")
# Tags that only lay out or describe the view: neither controls nor objects.
_LAYOUT = frozenset({"view", "header", "style", "filter", "collapse", "choice", "label"})


@dataclass(frozen=True)
class ChoicesControl:
    """A ``<Choices>`` control tag.

    Attributes
    ----------
    name : str
        The results' ``from_name``.
    to_name : str
        The results' ``to_name``: the object tag it labels.
    choices : tuple of str
        The values results may carry, in the config's order.
    multiple : bool
        ``choice="multiple"``: a result may carry several values.
    data_field : str or None
        The task data field the object tag shows (``$text`` -> ``text``).
    """

    name: str
    to_name: str
    choices: tuple[str, ...]
    multiple: bool
    data_field: str | None


@dataclass(frozen=True)
class RegionControl:
    """A ``<Labels>`` or ``<RectangleLabels>`` control tag (rule 5).

    Attributes
    ----------
    name : str
        The results' ``from_name``.
    to_name : str
        The results' ``to_name``.
    type : {"labels", "rectanglelabels"}
        The results' ``type``.
    labels : tuple of str
        Its ``<Label>`` values, in order.
    object_tag : str
        The tag of the object it points at, lower case (``text``, ``image``, ...).
    data_field : str or None
        The task data field that object shows.
    """

    name: str
    to_name: str
    type: str
    labels: tuple[str, ...]
    object_tag: str
    data_field: str | None


@dataclass(frozen=True)
class LabelConfig:
    """What labelloop reads of a label config.

    Attributes
    ----------
    choices : tuple of ChoicesControl
        The supported controls, in document order.
    unsupported : tuple of str
        ``"Tag name"`` of each control tag labelloop does not fill.
    objects : dict
        Object tag name -> the task data field it shows (None when its value is not
        ``$field``).
    regions : tuple of RegionControl
        The ``<Labels>`` and ``<RectangleLabels>`` controls, in document order (rule 5).
    """

    choices: tuple[ChoicesControl, ...]
    unsupported: tuple[str, ...]
    objects: dict[str, str | None]
    regions: tuple[RegionControl, ...] = ()


_REGION_TAGS = {"labels": "labels", "rectanglelabels": "rectanglelabels"}


def _region_control(
    element: ElementTree.Element, objects: dict[str, str | None], object_tags: dict[str, str]
) -> RegionControl:
    tag = element.tag
    name = element.attrib.get("name", "")
    first = element.attrib.get("toName", "").split(",")[0].strip()
    if not name or not first:
        raise ValidationError(
            f"label config: every <{tag}> needs a name and a toName attribute", field=_FIELD
        )
    if first not in objects:
        known = ", ".join(sorted(objects)) or "none"
        raise ValidationError(
            f"label config: <{tag} name={name!r}> points at toName={first!r}, which no "
            f"object tag names (object tags: {known})",
            field=_FIELD,
        )
    values = [
        child.attrib.get("alias") or child.attrib.get("value")
        for child in element.iter()
        if child.tag.lower() == "label"
    ]
    return RegionControl(
        name=name,
        to_name=first,
        type=_REGION_TAGS[tag.lower()],
        labels=tuple(v for v in values if v),
        object_tag=object_tags[first],
        data_field=objects[first],
    )


def _is_object(element: ElementTree.Element) -> bool:
    return "name" in element.attrib and element.attrib.get("value", "").startswith("$")


def _data_field(value: str) -> str | None:
    return value[1:] if value.startswith("$") and len(value) > 1 else None


def _choices_control(
    element: ElementTree.Element, objects: dict[str, str | None]
) -> ChoicesControl:
    name = element.attrib.get("name", "")
    to_name = element.attrib.get("toName", "")
    if not name or not to_name:
        raise ValidationError(
            "label config: every <Choices> needs a name and a toName attribute", field=_FIELD
        )
    # toName may list several objects ("a,b"); the first is the one results name.
    first = to_name.split(",")[0].strip()
    if first not in objects:
        known = ", ".join(sorted(objects)) or "none"
        raise ValidationError(
            f"label config: <Choices name={name!r}> points at toName={first!r}, which no "
            f"object tag names (object tags: {known})",
            field=_FIELD,
        )
    values = []
    for child in element.iter():
        if child.tag.lower() == "choice":
            value = child.attrib.get("alias") or child.attrib.get("value")
            if value:
                values.append(value)
    mode = element.attrib.get("choice", "single").lower()
    if mode not in (*_SINGLE, "multiple"):
        raise ValidationError(
            f"label config: <Choices name={name!r}> has choice={mode!r}; use single or multiple",
            field=_FIELD,
        )
    return ChoicesControl(
        name=name,
        to_name=first,
        choices=tuple(values),
        multiple=mode == "multiple",
        data_field=objects[first],
    )


def parse_label_config(text: str) -> LabelConfig:
    """Read a Label Studio label config (rules 1 to 3).

    Parameters
    ----------
    text : str
        The XML, as Label Studio sends it in ``label_config`` (or ``schema``).

    Returns
    -------
    LabelConfig

    Raises
    ------
    ValidationError
        Not XML, no ``<View>`` root, or a control pointing at no object tag
        (``field="label_config"``).

    Examples
    --------
    >>> config = parse_label_config(
    ...     '<View><Text name="t" value="$text"/>'
    ...     '<Choices name="s" toName="t"><Choice value="pos"/><Choice value="neg"/></Choices>'
    ...     "</View>"
    ... )
    >>> config.choices[0].choices
    ('pos', 'neg')
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("label config is missing: send the project's XML", field=_FIELD)
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise ValidationError(f"label config is not valid XML: {exc}", field=_FIELD) from None
    if root.tag.lower() != "view":
        raise ValidationError(
            f"label config: the root tag must be <View>, not <{root.tag}>", field=_FIELD
        )
    objects = {
        el.attrib["name"]: _data_field(el.attrib["value"]) for el in root.iter() if _is_object(el)
    }
    object_tags = {el.attrib["name"]: el.tag.lower() for el in root.iter() if _is_object(el)}
    choices: list[ChoicesControl] = []
    regions: list[RegionControl] = []
    unsupported: list[str] = []
    for element in root.iter():
        tag = element.tag.lower()
        if tag in _LAYOUT or _is_object(element) or "toName" not in element.attrib:
            continue
        if tag == "choices":
            choices.append(_choices_control(element, objects))
            continue
        if tag in _REGION_TAGS:
            regions.append(_region_control(element, objects, object_tags))
        unsupported.append(f"{element.tag} {element.attrib.get('name', '')}".strip())
    return LabelConfig(
        choices=tuple(choices),
        unsupported=tuple(unsupported),
        objects=objects,
        regions=tuple(regions),
    )


def box_label_config_for(labels: list[str]) -> str:
    """The label config of a box project: one ``<Image>`` and its ``<RectangleLabels>``,
    the names the box exports use (``from_name`` label, ``to_name`` image).

    Examples
    --------
    >>> print(box_label_config_for(["car"]))  # doctest: +NORMALIZE_WHITESPACE
    <View><Image name="image" value="$image"/><RectangleLabels name="label"
    toName="image"><Label value="car"/></RectangleLabels></View>
    """
    options = "".join(f"<Label value={quoteattr(label)}/>" for label in labels)
    return (
        '<View><Image name="image" value="$image"/>'
        f'<RectangleLabels name="label" toName="image">{options}</RectangleLabels></View>'
    )


def span_label_config_for(labels: list[str], *, text_field: str = "text") -> str:
    """The label config of an entity project: one ``<Text>`` and its ``<Labels>``, the
    names the entity exports use (``from_name`` label, ``to_name`` text).

    Examples
    --------
    >>> print(span_label_config_for(["PER"]))  # doctest: +NORMALIZE_WHITESPACE
    <View><Labels name="label" toName="text"><Label value="PER"/></Labels><Text
    name="text" value="$text"/></View>
    """
    options = "".join(f"<Label value={quoteattr(label)}/>" for label in labels)
    return (
        f'<View><Labels name="label" toName="text">{options}</Labels>'
        f'<Text name="text" value={quoteattr("$" + text_field)}/></View>'
    )


def label_config_for(labels: list[str], *, multi_label: bool, text_field: str = "text") -> str:
    """The label config of a labelloop project: one ``<Text>`` and one ``<Choices>`` (rule 4).

    Examples
    --------
    >>> print(label_config_for(["a", "b"], multi_label=False))  # doctest: +NORMALIZE_WHITESPACE
    <View><Text name="text" value="$text"/><Choices name="label" toName="text"
    choice="single"><Choice value="a"/><Choice value="b"/></Choices></View>
    """
    options = "".join(f"<Choice value={quoteattr(label)}/>" for label in labels)
    mode = "multiple" if multi_label else "single"
    return (
        f'<View><Text name="text" value={quoteattr("$" + text_field)}/>'
        f'<Choices name="label" toName="text" choice="{mode}">{options}</Choices></View>'
    )
