"""The SOQL grammar (lark, LALR). Kept as a module so it ships inside any wheel or zipapp."""

GRAMMAR = r"""
// The SOQL subset cpqsync emits and the org simulator serves. Anything outside it must fail to
// parse (and the error names the offending token) rather than be half-understood.

start: query

query: SELECT select_list FROM NAME where_clause? order_clause? limit_clause? offset_clause?

select_list: select_item ("," select_item)*
?select_item: field_path
            | subquery
            | count

count: COUNT "(" ")"

subquery: "(" SELECT sub_select_list FROM NAME where_clause? order_clause? limit_clause? ")"
sub_select_list: field_path ("," field_path)*

field_path: NAME ("." NAME)*

where_clause: WHERE condition

?condition: and_chain
          | or_chain
          | unary
and_chain: unary (AND unary)+
or_chain: unary (OR unary)+
?unary: NOT unary -> negation
      | "(" condition ")"
      | predicate

?predicate: field_path COMP_OP value           -> comparison
          | field_path IN "(" value_list ")"   -> in_list
          | field_path NOT IN "(" value_list ")" -> not_in_list
          | field_path LIKE STRING             -> like

value_list: value ("," value)*

?value: STRING     -> string
      | NUMBER     -> number
      | DATETIME   -> datetime
      | DATE       -> date
      | TRUE       -> true
      | FALSE      -> false
      | NULL       -> null
      | DATE_N     -> date_n
      | DATE_WORD  -> date_word

order_clause: ORDER_BY order_item ("," order_item)*
order_item: field_path DIRECTION? NULLS_POS?

limit_clause: LIMIT INT
offset_clause: OFFSET INT

SELECT: "SELECT"i
FROM: "FROM"i
WHERE: "WHERE"i
AND: "AND"i
OR: "OR"i
NOT: "NOT"i
IN: "IN"i
LIKE: "LIKE"i
COUNT: "COUNT"i
LIMIT: "LIMIT"i
OFFSET: "OFFSET"i
TRUE: "TRUE"i
FALSE: "FALSE"i
NULL: "NULL"i
ORDER_BY.2: /ORDER\s+BY\b/i
DIRECTION: /(ASC|DESC)\b/i
NULLS_POS.2: /NULLS\s+(FIRST|LAST)\b/i
DATE_N.3: /(LAST_N_DAYS|NEXT_N_DAYS):\d+\b/i
DATE_WORD: "TODAY"i | "YESTERDAY"i | "TOMORROW"i

COMP_OP: "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
STRING: /'(\\.|[^'\\])*'/
DATETIME.3: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})/
DATE.2: /\d{4}-\d{2}-\d{2}(?![\dT])/
NUMBER.1: /[+-]?(\d+(\.\d*)?|\.\d+)/
INT: /\d+/
NAME: /[A-Za-z][A-Za-z0-9_]*/

%import common.WS
%ignore WS
"""
