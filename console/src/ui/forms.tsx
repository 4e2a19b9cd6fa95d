/**
 * Form controls the pages repeat: a label wrapping its control (so the label is the control's
 * accessible name), wired to a string state.
 */
import type { InputHTMLAttributes, ReactNode, SelectHTMLAttributes, TextareaHTMLAttributes } from 'react';

interface Labelled {
  label: ReactNode;
  /** The class of the <label>. */
  labelClassName?: string;
  /** After the control, inside the label (a hint). */
  children?: ReactNode;
}

/** `<label>TEXT <input/></label>`; `onValue` gets the new text. */
export function TextField(
  props: Labelled &
    Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange' | 'children'> & {
      value: string;
      onValue: (value: string) => void;
    },
) {
  const { label, labelClassName, children, onValue, ...input } = props;
  return (
    <label className={labelClassName}>
      {label}
      <input
        {...input}
        onChange={(event) => {
          onValue(event.target.value);
        }}
      />
      {children}
    </label>
  );
}

/** `<label>TEXT <textarea/></label>`. */
export function TextAreaField(
  props: Labelled &
    Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'value' | 'onChange' | 'children'> & {
      value: string;
      onValue: (value: string) => void;
    },
) {
  const { label, labelClassName, children, onValue, ...area } = props;
  return (
    <label className={labelClassName}>
      {label}
      <textarea
        {...area}
        onChange={(event) => {
          onValue(event.target.value);
        }}
      />
      {children}
    </label>
  );
}

export interface Choice {
  value: string | number;
  label: ReactNode;
}

/** `<label>TEXT <select/></label>`; options are values (shown as they are) or {value, label}. */
export function SelectField(
  props: Labelled &
    Omit<SelectHTMLAttributes<HTMLSelectElement>, 'value' | 'onChange' | 'children'> & {
      value: string | number;
      onValue: (value: string) => void;
      options: readonly (string | Choice)[];
      /** Options after the listed ones (a "none" choice). */
      extra?: ReactNode;
    },
) {
  const { label, labelClassName, children, onValue, options, extra, ...select } = props;
  return (
    <label className={labelClassName}>
      {label}
      <select
        {...select}
        onChange={(event) => {
          onValue(event.target.value);
        }}
      >
        {options.map((option) => {
          const { value, label: text } =
            typeof option === 'string' ? { value: option, label: option } : option;
          return (
            <option key={value} value={value}>
              {text}
            </option>
          );
        })}
        {extra}
      </select>
      {children}
    </label>
  );
}

/** `<label><input type=checkbox/> TEXT</label>`. */
export function CheckField(
  props: Omit<Labelled, 'children'> &
    Omit<InputHTMLAttributes<HTMLInputElement>, 'type' | 'checked' | 'onChange' | 'children'> & {
      checked: boolean;
      onChecked: (checked: boolean) => void;
    },
) {
  const { label, labelClassName, onChecked, ...input } = props;
  return (
    <label className={labelClassName}>
      <input
        type="checkbox"
        {...input}
        onChange={(event) => {
          onChecked(event.target.checked);
        }}
      />
      {label}
    </label>
  );
}

/** A fieldset of radio buttons: the legend names the group, each label its choice. */
export function RadioGroup<T extends string | boolean>(props: {
  legend: ReactNode;
  name: string;
  value: T;
  options: readonly { value: T; label: ReactNode }[];
  onValue: (value: T) => void;
  className?: string;
  labelClassName?: string;
  disabled?: boolean;
}) {
  return (
    <fieldset className={props.className} disabled={props.disabled}>
      <legend>{props.legend}</legend>
      {props.options.map((option) => (
        <label key={String(option.value)} className={props.labelClassName}>
          <input
            type="radio"
            name={props.name}
            value={String(option.value)}
            checked={props.value === option.value}
            onChange={() => {
              props.onValue(option.value);
            }}
          />
          {option.label}
        </label>
      ))}
    </fieldset>
  );
}
